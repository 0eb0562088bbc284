"""``osteobiome associate``: per-cohort feature × metadata associations (MaAsLin2-compatible outputs).

Every field of :class:`~osteobiome.association.options.AssociationOptions` is a command-line option, generated
from the dataclass (``--min-prevalence``, ``--compositional-prevalence/--no-compositional-prevalence`` …;
``preset_name`` is ``--preset``); the options that ran are written to ``options.json`` in the output folder.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import typer

from osteobiome.association.options import AssociationOptions
from osteobiome.cli._lists import names
from osteobiome.cli._options import (
    block_size_option,
    metadata_argument,
    parse_reference,
    rank_option,
    reference_option,
    scheduler_option,
    taxonomy_option,
)
from osteobiome.cli._output import overwrite_option
from osteobiome.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("associate")(associate)


def option_flag(name: str) -> str:
    """The command-line flag of an :class:`AssociationOptions` field (``min_prevalence`` → ``--min-prevalence``)."""
    return "--preset" if name == "preset_name" else "--" + name.replace("_", "-")


def _write(out: Path, result, overwrite: bool = False, inputs: tuple = ()) -> None:  # noqa: ANN001
    """Write the result folder atomically: the tables, ``options.json`` (the options that ran) and, when the table
    ran as one in-memory block, the intermediate tables in ``features/``."""
    from osteobiome.io.outputs import atomic_output_dir

    with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as staging:
        from osteobiome.io.tsv import write_tsv

        write_tsv(result.results, staging / "all_results.tsv")
        write_tsv(result.significant(), staging / "significant_results.tsv")
        record = {"options": result.options.as_dict(), "blocks": result.n_blocks}
        (staging / "options.json").write_text(json.dumps(record, indent=2) + "\n")
        if result.filtered is not None:
            features = staging / "features"
            features.mkdir()
            for name, table in (
                ("filtered_data", result.filtered),
                ("filtered_data_norm", result.normalized),
                ("filtered_data_norm_transformed", result.transformed),
            ):
                write_tsv(table.T.rename_axis("feature"), features / f"{name}.tsv", index=True)


def associate(**kwargs: Any) -> None:
    """Test every feature against the metadata, one model per feature (default: two-part model with the median
    compositional correction; --preset maaslin2).

    The default is a two-part model (prevalence + abundance where present); --preset maaslin2: OLS (MaAsLin2);
    --random: random intercepts (default: a two-part mixed model, REML abundance part + Laplace logistic
    prevalence part; with --preset maaslin2 or --model lm: linear mixed models; --workers processes). --formula
    fits interactions, --group/--ordered/--contrast omnibus and contrast tests. Large or sparse tables run in
    blocks of features (automatic, or --block-size), on dask with --scheduler."""
    from osteobiome.association.pipeline import run_association
    from osteobiome.io import load_cohort, read_metadata
    from osteobiome.io.outputs import check_output_dir
    from osteobiome.io.store import is_store

    options = {f.name: kwargs[f.name] for f in fields(AssociationOptions) if f.name != "preset_name"}
    features, metadata, rank, taxonomy = kwargs["features"], kwargs["metadata"], kwargs["rank"], kwargs["taxonomy"]
    random = names(kwargs["random"])
    out, overwrite = kwargs["out"], kwargs["overwrite"]
    inputs = (features, metadata, taxonomy)
    check_output_dir(out, overwrite, inputs)
    if is_store(features):  # read block by block, never whole
        if random or rank is not None:
            raise InputError("--random and --rank are not available with a feature store; drop them or pass the table.")
        source, meta = str(features), read_metadata(metadata)
    else:
        source, meta = load_cohort(features, metadata, taxonomy=taxonomy, rank=rank), None
    fixed, formula = names(kwargs["fixed"]), kwargs["formula"]
    if not fixed and formula is None:
        raise InputError("name the model: --fixed age,sex,bmi or --formula '~ bmd * sex + age'.")
    result = run_association(
        source,
        meta,
        fixed,
        random,
        parse_reference(kwargs["reference"]),
        kwargs["preset"],
        kwargs["workers"],
        block_size=kwargs["block_size"],
        scheduler=kwargs["scheduler"],
        formula=formula,
        group=names(kwargs["group"]),
        ordered=names(kwargs["ordered"]),
        contrasts=_read_contrasts(kwargs["contrast"]),
        **options,
    )
    _write(out, result, overwrite, inputs)
    n_features = result.results["feature"].nunique()
    blocks = f", {result.n_blocks} blocks" if result.n_blocks > 1 else ""
    typer.echo(
        f"{len(result.results)} associations ({n_features} features × {len(result.design.columns) - 1} coefficients, "
        f"{result.design.n_used} samples{blocks}); {len(result.significant())} with q <= "
        f"{result.options.max_significance}; written to {out}"
    )


def _read_contrasts(path: Path | None):  # noqa: ANN202
    """The ``--contrast`` table: rows = contrasts (first column, their names), columns = coefficient weights."""
    if path is None:
        return None
    import pandas as pd

    try:
        table = pd.read_csv(path, sep=None, engine="python", index_col=0)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"--contrast {path}: could not be read ({exc}); give a TSV with a name column.") from None
    numeric = table.apply(pd.to_numeric, errors="coerce")
    if table.empty or numeric.isna().any().any():
        raise InputError(
            f"--contrast {path}: every cell after the name column must be a number (the coefficient's weight)."
        )
    return numeric


def _option_parameter(name: str, kind: Any) -> inspect.Parameter:
    """A typer option (default None = the preset's value) for one AssociationOptions field."""
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType)
    if optional:
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    flag, help_text = option_flag(name), AssociationOptions.help(name)
    if kind is bool:
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=typer.Option(None, f"{flag}/--no-{flag[2:]}", help=help_text),
            annotation=bool | None,
        )
    if typing.get_origin(kind) is Literal:
        help_text = help_text or f"One of {', '.join(typing.get_args(kind))}."
        kind = str
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=typer.Option(None, flag, help=help_text), annotation=kind | None
    )


def _signature() -> inspect.Signature:
    keyword = inspect.Parameter.KEYWORD_ONLY

    def param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, keyword, default=default, annotation=annotation)

    hints = typing.get_type_hints(AssociationOptions)
    fixed = [
        param("features", Path, typer.Argument(..., help="Feature table (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, PICRUSt2, HUMAnN, feature store).")),
        param("metadata", Path, metadata_argument()),
        param("fixed", str, typer.Option("", "--fixed", help="Fixed effects, comma-separated: age,sex,bmi (or --formula).")),
        param(
            "formula",
            str | None,
            typer.Option(
                None,
                "--formula",
                help="The model as a formula instead of --fixed: '~ bmd * sex + age' (main effects and two-way "
                "interactions; numeric variables standardized before interactions are formed).",
            ),
        ),
        param("group", str, typer.Option("", "--group", help="Factors tested as a whole (all levels, F test; linear model): site,stage.")),
        param("ordered", str, typer.Option("", "--ordered", help="Factors coded level vs previous level: stage.")),
        param(
            "contrast",
            Path | None,
            typer.Option(
                None,
                "--contrast",
                help="TSV of contrasts: first column the name, then one column per coefficient (siteB, bmd:sexM) "
                "with its weight; BH over the contrasts asked for (linear model).",
            ),
        ),
        param("out", Path, typer.Option(..., "--out", help="Output folder (written atomically).")),
        param("random", str, typer.Option("", "--random", help="Random-intercept grouping variables: subject or site,subject.")),
        param("reference", list[str], reference_option()),
        param("taxonomy", Path | None, taxonomy_option()),
        param("rank", str | None, rank_option()),
        param(
            "preset",
            str,
            typer.Option(
                "default",
                "--preset",
                help="default: two-part model, median compositional correction, BH per variable; "
                "maaslin2: MaAsLin2 1.15 exactly (LM, BH over all coefficients). Options given here override the preset.",
            ),
        ),
        param("block_size", int | None, block_size_option()),
        param("scheduler", str | None, scheduler_option()),
        param(
            "workers",
            int,
            typer.Option(1, "--workers", min=1, help="Processes for the random-intercept fits (--random); other fits ignore it."),
        ),
        param("overwrite", bool, overwrite_option()),
    ]
    generated = [_option_parameter(f.name, hints[f.name]) for f in fields(AssociationOptions) if f.name != "preset_name"]
    return inspect.Signature(fixed + generated)


associate.__signature__ = _signature()
