"""``osteobiome diversity``: alpha indices, one beta distance matrix, PERMANOVA, PERMDISP and PCoA in one folder.

Files (written to a temporary sibling folder, then moved into place): ``alpha.tsv`` (samples × indices),
``permanova.tsv`` (vegan's columns ``term Df SumOfSqs R2 F pval``), ``permdisp.tsv`` (one block per
categorical term), ``pcoa.tsv`` (sample coordinates) and ``pcoa_explained.tsv`` (proportion per axis).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import typer

from osteobiome.diversity import alpha_diversity, beta_diversity, pcoa, permanova, permdisp, rarefy
from osteobiome.diversity.terms import require_terms
from osteobiome.errors import InputError, preview


def register(app: typer.Typer) -> None:
    app.command("diversity")(diversity)


def diversity(
    features: Path = typer.Argument(..., help="Feature table TSV/CSV (samples as rows or columns; ids matched)."),
    metadata: Path = typer.Argument(..., help="Sample metadata TSV/CSV, first column = sample id."),
    terms: str = typer.Option(..., "--terms", help="PERMANOVA terms in formula order, comma-separated."),
    out: Path = typer.Option(..., "--out", help="Output folder (replaced atomically)."),
    metric: str = typer.Option("braycurtis", "--metric", help="braycurtis, jaccard, aitchison, weighted_unifrac, unweighted_unifrac."),
    by: str = typer.Option("terms", "--by", help="terms (sequential) or margin (each term after all others)."),
    strata: str | None = typer.Option(None, "--strata", help="Metadata column: permute only within its groups."),
    permutations: int = typer.Option(999, "--permutations", help="Number of permutations."),
    seed: int = typer.Option(1, "--seed", help="Seed for permutations and rarefaction."),
    alpha: str = typer.Option("observed,shannon,simpson,pielou", "--alpha", help="Alpha indices, comma-separated."),
    shannon_base: str = typer.Option("e", "--shannon-base", help="Log base of Shannon: e (vegan, skbio>=0.6.1) or 2 (QIIME 2)."),
    tree: Path | None = typer.Option(None, "--tree", help="Newick tree (faith_pd, UniFrac)."),
    rarefy_depth: int | None = typer.Option(None, "--rarefy", help="Rarefy every sample to this many reads first."),
) -> None:
    """Alpha and beta diversity vs metadata: PERMANOVA (adonis2), PERMDISP (betadisper) and PCoA."""
    term_list = [t.strip() for t in terms.split(",") if t.strip()]
    base = math.e if shannon_base.strip().lower() == "e" else _positive_float(shannon_base, "--shannon-base")
    table, meta = _read_inputs(features, metadata)
    require_terms(meta, term_list + ([strata] if strata else []))
    if rarefy_depth is not None:
        table, _ = rarefy(table, rarefy_depth, seed)
        meta = meta.loc[table.index]
    alpha_table = alpha_diversity(table, [m for m in alpha.split(",") if m.strip()], tree=tree, base=base)
    dm = beta_diversity(table, metric, tree=tree)
    results = {
        "alpha.tsv": alpha_table.reset_index(),
        "permanova.tsv": permanova(dm, meta, term_list, by=by, permutations=permutations, strata=strata, seed=seed),
        "permdisp.tsv": _permdisp_all(dm, meta, term_list, permutations, seed),
    }
    coords, explained = pcoa(dm)
    results["pcoa.tsv"] = coords.reset_index()
    results["pcoa_explained.tsv"] = explained.rename_axis("axis").reset_index()
    _write_atomically(out, results)
    typer.echo(f"diversity: {len(table)} samples, {metric}, {by}; results in {out}")


def _permdisp_all(dm, meta: pd.DataFrame, terms: list[str], permutations: int, seed: int) -> pd.DataFrame:  # noqa: ANN001
    """PERMDISP for every categorical term (numeric terms have no groups)."""
    tables = [
        permdisp(dm, meta, t, permutations=permutations, seed=seed).table
        for t in terms
        if t in meta.columns and not pd.api.types.is_numeric_dtype(meta[t])
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["term", "Df", "SumOfSqs", "MeanSqs", "F", "pval"])


def _read_table(path: Path) -> pd.DataFrame:
    """A delimited table with ids in the first column (CSV by extension, else tab-separated)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found.")
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        frame = pd.read_csv(path, sep=sep, index_col=0)
    except Exception as exc:  # pandas parser errors
        raise InputError(f"{path}: cannot be read as a {'CSV' if sep == ',' else 'TSV'} table ({exc}).") from exc
    frame.index = frame.index.astype(str)
    return frame


def _read_inputs(features: Path, metadata: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Samples × features table and metadata for the samples present in both (orientation by id overlap)."""
    table, meta = _read_table(features), _read_table(metadata)
    if len(table.columns.astype(str).intersection(meta.index)) > len(table.index.intersection(meta.index)):
        table = table.T
        table.index = table.index.astype(str)
    common = table.index.intersection(meta.index)
    if common.empty:
        raise InputError(
            f"{features}: no sample id in common with {metadata} (table: {preview(table.index)}; "
            f"metadata: {preview(meta.index)}); check the id column."
        )
    return table.loc[common].apply(pd.to_numeric, errors="coerce"), meta.loc[common]


def _positive_float(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0 or value == 1:
        raise InputError(f"{option} '{text}': give 'e' or a positive number other than 1 (e.g. 2).")
    return value


def _write_atomically(out: Path, results: dict[str, pd.DataFrame]) -> None:
    """Write all files into a temporary sibling folder, then swap it into place."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, frame in results.items():
            frame.to_csv(tmp / name, sep="\t", index=False, na_rep="NA")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
