"""``osteobiome associate``: per-cohort feature × metadata associations (MaAsLin2-compatible outputs)."""

from __future__ import annotations

from pathlib import Path

import typer

from osteobiome.association.blocked import run_blocked
from osteobiome.association.pipeline import run_association
from osteobiome.cli._lists import names
from osteobiome.cli._output import overwrite_option
from osteobiome.compute.blocks import block_size_option, scheduler_option
from osteobiome.errors import InputError
from osteobiome.io import load_cohort, read_metadata
from osteobiome.io.outputs import atomic_output_dir, check_output_dir
from osteobiome.io.store import is_store
from osteobiome.io.tsv import write_tsv


def register(app: typer.Typer) -> None:
    app.command("associate")(associate)


def _parse_reference(values: list[str]) -> dict[str, str]:
    reference = {}
    for item in values:
        for part in item.split(";"):
            name, sep, level = part.partition("=")
            if not sep or not name or not level:
                raise InputError(f"--reference {part!r}: write it as variable=level, e.g. --reference sex=F.")
            reference[name.strip()] = level.strip()
    return reference


def _write(out: Path, result, overwrite: bool = False, inputs: tuple = ()) -> None:  # noqa: ANN001
    """Write the result folder atomically (the blocked path has no dense intermediate tables: ``result.filtered``
    is None and ``features/`` is not written)."""
    with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as staging:
        write_tsv(result.results, staging / "all_results.tsv")
        write_tsv(result.significant(), staging / "significant_results.tsv")
        if result.filtered is not None:
            features = staging / "features"
            features.mkdir()
            for name, table in (
                ("filtered_data", result.filtered),
                ("filtered_data_norm", result.normalized),
                ("filtered_data_norm_transformed", result.transformed),
            ):
                write_tsv(table.T.rename_axis("feature"), features / f"{name}.tsv", index=True)


def associate(
    features: Path = typer.Argument(..., help="Feature table (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, PICRUSt2, HUMAnN)."),
    metadata: Path = typer.Argument(..., help="Sample metadata (TSV/CSV, sample ids in the first column)."),
    fixed: str = typer.Option(..., "--fixed", help="Fixed effects, comma-separated: age,sex,bmi."),
    out: Path = typer.Option(..., "--out", help="Output folder (written atomically)."),
    random: str = typer.Option("", "--random", help="Random-intercept grouping variables: subject or site,subject."),
    reference: list[str] = typer.Option([], "--reference", help="Reference level: variable=level (repeatable)."),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help="Taxonomy table (features × ranks) for --rank."),
    rank: str | None = typer.Option(None, "--rank", help="Collapse features to this rank first (needs a taxonomy)."),
    normalization: str | None = typer.Option(None, "--normalization", help="TSS, CLR, CSS, TMM or NONE."),
    transform: str | None = typer.Option(None, "--transform", help="LOG, LOGIT, AST or NONE."),
    min_prevalence: float | None = typer.Option(None, "--min-prevalence", help="Fraction of samples above --min-abundance."),
    min_abundance: float | None = typer.Option(None, "--min-abundance", help="Abundance a sample must exceed to count."),
    min_variance: float | None = typer.Option(None, "--min-variance", help="Keep features with variance above this."),
    standardize: bool | None = typer.Option(None, "--standardize/--no-standardize", help="z-score numeric metadata."),
    correction: str | None = typer.Option(None, "--correction", help="BH, BY, holm, bonferroni or hochberg."),
    fdr_scope: str | None = typer.Option(None, "--fdr-scope", help="all (MaAsLin2) or per-variable."),
    max_significance: float | None = typer.Option(None, "--max-significance", help="q-value cut for significant_results.tsv (default 0.1, as osteobiome run; MaAsLin2 uses 0.25)."),
    model: str | None = typer.Option(None, "--model", help="lm (one linear model per feature) or twopart (prevalence + abundance where present)."),
    compositional: str | None = typer.Option(None, "--compositional", help="none, median (test against the median coefficient) or linda."),
    variance: str | None = typer.Option(None, "--variance", help="classical or HC3 (robust)."),
    joint: str | None = typer.Option(
        None, "--joint", help="Two-part p-value: cauchy (presence-weighted Cauchy combination) or beta (MaAsLin3's)."
    ),
    preset: str = typer.Option(
        "default",
        "--preset",
        help="default: two-part model, median compositional correction, BH per variable; "
        "maaslin2: MaAsLin2 1.15 exactly (LM, BH over all coefficients). Options given here override the preset.",
    ),
    block_size: int | None = block_size_option(),
    scheduler: str | None = scheduler_option(),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Processes for the random-intercept (REML) fits (--random); other fits ignore it."
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Test every feature against the metadata, one model per feature: by default a two-part model (prevalence
    + abundance where present) with the median compositional correction; --preset maaslin2: OLS (MaAsLin2);
    --random: REML random intercepts (linear models; --workers processes)."""
    options = {
        "normalization": normalization,
        "transform": transform,
        "min_prevalence": min_prevalence,
        "min_abundance": min_abundance,
        "min_variance": min_variance,
        "standardize": standardize,
        "correction": correction,
        "fdr_scope": fdr_scope,
        "max_significance": max_significance,
        "model": model,
        "compositional": compositional,
        "variance": variance,
        "joint": joint,
    }
    terms = names(fixed)
    inputs = (features, metadata, taxonomy)
    check_output_dir(out, overwrite, inputs)
    if block_size is not None or scheduler is not None or is_store(features):  # the blocked sparse LM path
        if random.strip() or rank is not None:
            raise InputError("--random and --rank are not available with --block-size/--scheduler or a feature store; drop one.")
        if is_store(features):  # read block by block, never whole
            source, meta = str(features), read_metadata(metadata)
        else:
            source, meta = load_cohort(features, metadata, taxonomy=taxonomy), None
        result = run_blocked(
            source,
            meta,
            terms,
            _parse_reference(reference),
            preset,
            block_size=block_size,
            scheduler=scheduler,
            **options,
        )
        _write(out, result, overwrite, inputs)
        n_significant, cut = len(result.significant()), result.options["max_significance"]
        typer.echo(f"{len(result.results)} associations (blocked); {n_significant} with q <= {cut}; written to {out}")
        return
    cohort = load_cohort(features, metadata, taxonomy=taxonomy, rank=rank)
    result = run_association(
        cohort,
        None,
        terms,
        random=names(random),
        reference=_parse_reference(reference),
        preset=preset,
        workers=workers,
        **options,
    )
    _write(out, result, overwrite, inputs)
    n_significant = len(result.significant())
    typer.echo(
        f"{len(result.results)} associations ({result.transformed.shape[1]} features × "
        f"{len(result.design.columns) - 1} coefficients, {result.design.n_used} samples); "
        f"{n_significant} with q <= {result.options['max_significance']}; written to {out}"
    )
