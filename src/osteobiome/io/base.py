"""What every reader returns (:class:`FeatureData`) and the file checks they share."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError, preview, unique_ids  # noqa: F401  (unique_ids: re-exported)


@dataclass(frozen=True)
class FeatureData:
    """A feature table as read from a file.

    ``X`` is samples × features (float64 ndarray, or CSR when the file is sparse, e.g. BIOM HDF5); ``table``
    gives it as a dense DataFrame. ``taxonomy`` is features × ranks (or ``None``); ``format`` names the
    detected format; ``extra`` holds what the format carries beside the table (HUMAnN stratified rows and
    UNMAPPED/UNINTEGRATED totals, MetaPhlAn unclassified fraction, …).
    """

    X: np.ndarray | sp.csr_matrix
    samples: pd.Index
    features: pd.Index
    taxonomy: pd.DataFrame | None
    format: str
    source: str
    extra: dict[str, object] = field(default_factory=dict)
    value_type: str | None = None  # "relative" when the format fixes it (MetaPhlAn); else inferred

    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame,
        fmt: str,
        source: str,
        taxonomy: pd.DataFrame | None = None,
        extra: dict[str, object] | None = None,
        value_type: str | None = None,
    ) -> FeatureData:
        """From a samples × features DataFrame whose values are already checked numeric."""
        return cls(
            X=table.to_numpy(dtype=np.float64),
            samples=pd.Index([str(s) for s in table.index], dtype=object, name="sample"),
            features=pd.Index([str(f) for f in table.columns], dtype=object, name="feature"),
            taxonomy=taxonomy,
            format=fmt,
            source=source,
            extra=extra or {},
            value_type=value_type,
        )

    @property
    def table(self) -> pd.DataFrame:
        """Samples × features as a dense DataFrame."""
        values = self.X.toarray() if sp.issparse(self.X) else self.X
        return pd.DataFrame(values, index=self.samples, columns=self.features)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape


def checked_path(path: str | Path) -> Path:
    """``path`` as a Path that exists, is a readable non-empty file; else a one-line :class:`InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file; give the table file inside it.")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions.") from None
    if size == 0:
        raise InputError(f"{path}: the file is empty.")
    return path


def read_text(path: Path) -> str:
    """The whole file as text (transparently un-gzipped), with a clear error for binary or non-UTF-8 files."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: damaged gzip file ({exc}); re-create or re-download it.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            raise InputError(f"{path}: not a text file; expected a TSV/CSV table.") from None
    if "\x00" in text[:4096]:
        raise InputError(f"{path}: binary content where a text table was expected; check the format (--format).")
    if not text.strip():
        raise InputError(f"{path}: the file holds no data (only blank lines).")
    return text


def head_text(path: Path, max_lines: int = 50) -> str:
    """The first ``max_lines`` lines of a (possibly gzipped) text file, for format detection."""
    with path.open("rb") as handle:
        opener = gzip.open if handle.read(2) == b"\x1f\x8b" else open
    lines = []
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
            for line in handle:
                lines.append(line.rstrip("\r\n"))
                if len(lines) >= max_lines:
                    break
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot be read as text (damaged gzip file? {exc}); check the file.") from None
    return "\n".join(lines)


def delimiter(path: Path, header: str) -> str:
    """``,`` for ``.csv`` files and for headers that have commas but no tabs; tab otherwise."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith((".tsv", ".txt", ".tab")):
        return "\t"
    return "," if ("," in header and "\t" not in header) else "\t"


def table_header(path: Path, lines: list[str], comment_lines: bool = True) -> tuple[int, str, list[str]]:
    """(index of the header line in ``lines``, delimiter, header cells with the corner cell first) of a delimited
    file: leading comment lines (when ``comment_lines``) and blank lines skipped, quoted cells unquoted, and a
    header one cell shorter than the first row (R's ``write.table``) given an empty corner cell."""
    start = 0
    if comment_lines:
        while start < len(lines) - 1 and _is_comment(lines[start], lines[start + 1]):
            start += 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines):
        raise InputError(f"{path}: the file holds no data.")
    sep = delimiter(path, lines[start])
    header = next(csv.reader([lines[start]], delimiter=sep))
    following = next((line for line in lines[start + 1 :] if line.strip()), None)
    if following is not None and len(next(csv.reader([following], delimiter=sep))) == len(header) + 1:
        header = ["", *header]
    return start, sep, header


def read_delimited(
    path: Path, text: str | None = None, comment_lines: bool = True, numbers: bool = False
) -> pd.DataFrame:
    """A delimited text file as a DataFrame with the first column (ids, always text) as index.

    Other columns are strings, or with ``numbers=True`` parsed by pandas' C parser where every cell is a
    number (float64) and left as strings otherwise (see :func:`numeric_frame`).

    Leading ``#`` lines that are not the header (``# Constructed from biom file``, ``#mpa_v30…``: followed by
    another ``#`` line or without any delimiter) are skipped when ``comment_lines``; a header one cell shorter than the rows (R's ``write.table``) is accepted.
    """
    text = read_text(path) if text is None else text
    lines = text.splitlines()
    start, sep, header = table_header(path, lines, comment_lines)
    body = [line for line in lines[start:] if line.strip()]
    if len(body) < 2:
        raise InputError(f"{path}: only a header line, no data rows.")
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(body[1:])),
            sep=sep,
            header=None,
            names=list(range(len(header))),
            dtype={0: str} if numbers else str,
            keep_default_na=False,
            na_filter=False,
        )
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{path}: rows of unequal length ({str(exc).strip().splitlines()[-1]}); check the delimiter."
        ) from None
    frame = frame.set_index(0)
    frame.index = pd.Index([str(i).strip() for i in frame.index], dtype=object, name=header[0].strip() or None)
    frame.columns = pd.Index([c.strip() for c in header[1:]], dtype=object)
    if frame.shape[1] == 0:
        raise InputError(f"{path}: only one column; expected ids and abundances (check the delimiter).")
    return frame


def _is_comment(line: str, following: str) -> bool:
    """A leading ``#`` line that is not the header: followed by another ``#`` line, or holding no delimiter."""
    return line.startswith("#") and (following.startswith("#") or ("\t" not in line and "," not in line))


#: Cells read as missing values (abundance tables: an error; metadata: NaN).
MISSING = frozenset({"", "NA", "NaN", "nan", "NULL", "null", "N/A", "n/a", "None", "#N/A"})


def numeric_frame(frame: pd.DataFrame, path: Path | str, rows_are: str = "feature") -> pd.DataFrame:
    """Strings → float64, with a one-line error naming the first non-numeric or missing cell.

    ``rows_are`` says whether rows are features or samples, so that the message names each id correctly.
    """
    parsed = np.array(
        [pd.api.types.is_float_dtype(t) or pd.api.types.is_integer_dtype(t) for t in frame.dtypes], dtype=bool
    )
    values = np.empty(frame.shape, dtype=np.float64)
    if parsed.any():
        values[:, parsed] = frame.iloc[:, np.flatnonzero(parsed)].to_numpy(dtype=np.float64)
    for j in np.flatnonzero(~parsed):
        text = frame.iloc[:, j].astype(str).str.strip()
        values[:, j] = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        cell = frame.iat[r, c]
        row_id, col_id = frame.index[r], frame.columns[c]
        feature, sample = (row_id, col_id) if rows_are == "feature" else (col_id, row_id)
        problem = "missing abundance" if str(cell).strip() in MISSING else f"non-numeric abundance {cell!r}"
        todo = (
            "use 0 for absent"
            if str(cell).strip() in MISSING
            else "the table must hold numbers only (is the orientation, delimiter or header right?)"
        )
        raise InputError(f"{path}: {problem} for feature {feature!r}, sample {sample!r}; {todo}.")
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)
