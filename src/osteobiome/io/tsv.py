"""The one writer of every tab-separated table osteobiome writes (CLI commands, study runs, simulations).

Conventions, the same in every file:

- missing values are written ``NA`` (as MaAsLin2's ``write.table`` output and R read them back);
- floats in full precision as Python's ``repr``: the shortest decimal text that reads back to the very same
  double (``0.1``, ``0.30000000000000004``, ``1e-300``), so a table read back holds the numbers that were
  computed; integers as integers; ``inf``/``-inf`` as pandas writes them;
- the index only when asked (``index=True``), headed by its name.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: How a missing value is written.
NA = "NA"


def write_tsv(frame: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write ``frame`` to ``path`` tab-separated (parent folders created), missing values as :data:`NA` and
    floats as their ``repr`` (full precision; see the module docstring). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=index, na_rep=NA, float_format=None)
    return path
