"""Render a study's results as one self-contained HTML file (figures inline, no network) plus figure files."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import jinja2
import pandas as pd

from osteobiome.mechanisms.pathways import TITLES
from osteobiome.report import figures
from osteobiome.report._mediation import mediation_section
from osteobiome.report._parallel import figures_in_workers
from osteobiome.report._prediction import prediction_section
from osteobiome.report._strata import strata_section
from osteobiome.report._survival import survival_context
from osteobiome.report.consortium import consortium_figures
from osteobiome.report.methods import methods_paragraph
from osteobiome.report.results import StudyResults
from osteobiome.report.tables import format_number, html_table

TOP_HEATMAP = 40
TOP_FOREST = 9
MAX_TABLE_ROWS = 500  # per table in the HTML (smallest p first); every row is in the results folder's TSV files
FIGURES = (
    "heatmap", "volcano", "forest", "forest_note", "alpha", "alpha_scatter", "pcoa", "pcoa_joint",
    "added_variable", "power", "pathway_heatmap", "sets",
)
TRANSFORM_UNITS = {
    "LOG": "log2 fold change",
    "AST": "change in arcsine-square-root abundance",
    "LOGIT": "change in logit abundance",
    "NONE": "change in abundance",
}
REPLICATION = ("sign_agreement", "n_significant", "loo_robust")  # shown when the meta-analysis filled them
PERMANOVA_COLUMNS = ["Df", "SumOfSqs", "R2", "F", "pval"]


def _n_contributing_pathways(results: StudyResults) -> int:
    table = results.mechanisms.get("contributions")
    return 0 if table is None else int(table["pathway"].nunique())


def render(
    results: StudyResults, out: str | Path, workers: int = 1, meanwhile: Callable[[], None] | None = None
) -> Path:
    """Write ``out/report.html`` and ``out/figures/*.svg|png``; return the report's path. ``workers`` > 1: the
    figures are drawn by that many worker processes (:mod:`osteobiome.report._parallel`); ``meanwhile()``: the
    caller's other work, done once the page is composed, while the workers draw the last figures."""
    out = Path(out)
    with figures_in_workers(workers) as deferred:
        html = _html(results, out)
        if meanwhile is not None:
            meanwhile()
        if deferred is not None:
            html = deferred.resolve(html)
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def _html(results: StudyResults, out: Path) -> str:
    figdir = out / "figures"
    context = {
        "r": results,
        "generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cards": _cards(results),
        "overview": html_table(_overview(results), "overview"),
        "figures": _figures(results, figdir),
        "consortium": consortium_figures(results, figdir),
        "tables": _tables(results),
        "strata": strata_section(results, figdir),
        "mediation": mediation_section(results, figdir),
        "survival": survival_context(results, figdir),
        "methods": methods_paragraph(
            results.settings,
            {c.name: int(c.summary["n"]) for c in results.cohorts},
            results.phenotypes,
            results.fdr_cohort,
            results.fdr_meta,
            results.versions,
            contributions=_n_contributing_pathways(results),
        ),
        "sets_threshold": sets_threshold(results),
        "fdr_note": fdr_note(results),
        "coefficient_unit": coefficient_unit(results.settings),
        "top_heatmap": TOP_HEATMAP,
        "prediction": prediction_section(results.prediction, figdir) if results.prediction is not None else None,
        "css": _asset("report.css"),
        "js": _asset("report.js"),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("osteobiome.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def fdr_note(results: StudyResults) -> str:
    """What the FDR threshold means for this study's number of phenotypes: with BH per phenotype each
    phenotype may contribute false hits, so a study of P phenotypes without real signal expects up to
    q · P of them; ``fdr: {scope: study}`` controls the share over the whole study instead."""
    n = len(results.phenotypes)
    q = results.fdr_cohort
    if results.fdr_scope == "study":
        return (
            f"q-values are controlled over the whole study (all {n} phenotypes together): on average at most "
            f"{q:g} of the hits at q < {q:g} are false."
        )
    return (
        f"q-values are computed per phenotype (Benjamini–Hochberg within each of the {n} phenotypes): among "
        f"the hits of one phenotype at most a share {q:g} is false on average, but over {n} phenotypes with "
        f"no real association up to {q * n:.2g} false hits per run are expected. Set fdr: {{scope: study}} in "
        "the study file to control the false discovery rate across phenotypes."
    )


def _asset(name: str) -> str:
    return resources.files("osteobiome.report").joinpath("templates", name).read_text(encoding="utf-8")


def _cards(results: StudyResults) -> list[tuple[str, str]]:
    hits = results.cohort_hits()
    cards = [
        ("cohorts", str(len(results.cohorts))),
        ("samples", f"{sum(int(c.summary['n']) for c in results.cohorts):,}"),
        ("phenotypes", str(len(results.phenotypes))),
    ]
    cards += [(f"hits in {name} (q < {results.fdr_cohort:g})", str(n)) for name, n in hits.items()]
    if results.meta is not None:
        cards.append((f"meta-analysis hits (q < {results.fdr_meta:g})", str(results.meta_hits())))
    return cards


def _overview(results: StudyResults) -> pd.DataFrame:
    rows = [{"cohort": c.name, **c.summary} for c in results.cohorts]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- figures
def _figures(results: StudyResults, figdir: Path) -> dict[str, object]:
    """Draw every figure the results allow; keys are figure names, values data URIs (or dicts of them).

    The costliest figures come first: drawn by worker processes, they then do not finish last, alone."""
    thresholds = {c.name: results.fdr_cohort for c in results.cohorts} | {"Meta-analysis": results.fdr_meta}
    out: dict[str, object] = dict.fromkeys(FIGURES)
    panels = _association_panels({c.name: c.associations for c in results.cohorts}, results.meta)
    if _any_rows(panels):
        out["heatmap"] = figures.draw(
            figdir, "heatmap", figures.heatmap, panels, results.phenotypes, thresholds, top=TOP_HEATMAP
        )
        out["volcano"] = figures.draw(
            figdir, "volcano", figures.volcano, panels, thresholds, xlabel=coefficient_unit(results.settings)
        )
    residuals = {
        c.name: c.added_variable for c in results.cohorts if c.added_variable is not None and len(c.added_variable)
    }
    if residuals:
        unit = coefficient_unit(results.settings).split(" per ")[0]
        out["added_variable"] = figures.draw(
            figdir,
            "top_associations",
            figures.added_variable,
            residuals,
            f"abundance ({unit.replace('change in ', '')}), adjusted",
        )
    hits = _forest_hits(results.meta, results.fdr_meta)
    if hits:
        cohort_tables = {c.name: c.associations for c in results.cohorts}
        out["forest"] = figures.draw(figdir, "forest", figures.forest, results.meta, cohort_tables, hits)
        significant = int(
            (results.meta.set_index(["feature", "exposure"]).loc[hits, "qval.fdr"] < results.fdr_meta).sum()
        )
        out["forest_note"] = (
            f"The {significant} pooled association(s) with the smallest p-values at q < {results.fdr_meta:g}."
            if significant
            else f"No pooled association reached q < {results.fdr_meta:g}; the {len(hits)} with the smallest "
            "p-values are shown."
        )
    alpha = {c.name: c.alpha_associations for c in results.cohorts if c.alpha_associations is not None}
    if alpha:
        out["alpha"] = figures.draw(
            figdir, "alpha_diversity", figures.alpha_effects, alpha, results.phenotypes, results.fdr_cohort
        )
    points = {
        c.name: c.alpha.join(c.metadata, how="inner")
        for c in results.cohorts
        if c.alpha is not None and c.metadata is not None
    }
    if alpha and points:
        phenotype = _strongest_alpha_phenotype(alpha)
        indices = list(dict.fromkeys(i for t in alpha.values() for i in t["feature"]))
        points = {k: v for k, v in points.items() if phenotype in v}
        if points:
            out["alpha_scatter"] = figures.draw(
                figdir, "alpha_scatter", figures.alpha_scatter, points, indices, phenotype
            )
    out["pcoa"] = _pcoa_figures(results, figdir)
    out["pcoa_joint"] = {
        metric: figures.draw(
            figdir, f"pcoa_joint_{metric}", figures.pcoa_joint, coords, explained, results.phenotypes[0], metric
        )
        for metric, (coords, explained) in results.ordination.items()
    }
    if results.power is not None and len(results.power):
        out["power"] = figures.draw(figdir, "power", figures.power_curves, results.power)
    pathway_panels = _association_panels(
        {c.name: c.pathway_associations for c in results.cohorts if c.pathway_associations is not None},
        results.pathway_meta,
    )
    if _any_rows(pathway_panels):
        out["pathway_heatmap"] = figures.draw(
            figdir, "pathway_heatmap", figures.heatmap, pathway_panels, results.phenotypes, thresholds, top=30
        )
    sets = results.mechanisms.get("sets")
    if sets is not None and len(sets):
        out["sets"] = figures.draw(
            figdir, "mechanism_sets", figures.set_dotplot, sets, sets_threshold(results), results.phenotypes
        )
    return out


def coefficient_unit(settings: dict) -> str:
    """What a phenotype coefficient measures, from the run's normalization, transform and standardization:
    e.g. ``log2 fold change per SD of the phenotype`` (TSS + LOG, standardized)."""
    association = settings.get("association") or {}
    transform = str(association.get("transform", "LOG")).upper()
    if str(association.get("normalization", "TSS")).upper() == "CLR" and transform == "NONE":
        unit = "change in CLR (natural log ratio)"
    else:
        unit = TRANSFORM_UNITS.get(transform, "coefficient")
    per = "per SD of the phenotype" if association.get("standardize", True) else "per unit of the phenotype"
    return f"{unit} {per}"


def _strongest_alpha_phenotype(tables: dict[str, pd.DataFrame]) -> str:
    """The phenotype of the smallest alpha-association p-value in any cohort."""
    rows = pd.concat(list(tables.values()), ignore_index=True).dropna(subset=["pval"])
    return str(rows.sort_values("pval").iloc[0]["metadata"])


def sets_threshold(results: StudyResults) -> float:
    """The q threshold of the set-level table: the meta-analysis one when cohorts were combined, else the
    cohort one (with one cohort ``sets`` is that cohort's own table)."""
    return results.fdr_meta if "sets_by_cohort" in results.mechanisms else results.fdr_cohort


def _association_panels(
    tables: dict[str, pd.DataFrame | None], meta: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    panels = {name: t for name, t in tables.items() if t is not None and len(t)}
    if meta is not None and len(meta):
        panels["Meta-analysis"] = meta
    return panels


def _any_rows(panels: dict[str, pd.DataFrame]) -> bool:
    return any(t["pval"].notna().any() for t in panels.values())


def _forest_hits(meta: pd.DataFrame | None, threshold: float) -> list[tuple[str, str]]:
    """The top (feature, phenotype) pairs of the meta-analysis: significant ones first, at most TOP_FOREST."""
    if meta is None or not len(meta):
        return []
    ranked = meta[meta["k"] > 1].dropna(subset=["pval"]).sort_values("pval")
    chosen = ranked[ranked["qval.fdr"] < threshold].head(TOP_FOREST)
    if chosen.empty:
        chosen = ranked.head(min(3, TOP_FOREST))
    return list(zip(chosen["feature"], chosen["exposure"], strict=True))


def _pcoa_figures(results: StudyResults, figdir: Path) -> dict[str, str]:
    """One PCoA figure per distance, a panel per cohort coloured by the first phenotype."""
    phenotype = results.phenotypes[0]
    metrics = list(dict.fromkeys(m for c in results.cohorts for m in c.pcoa))
    out = {}
    for metric in metrics:
        panels, notes = {}, {}
        for c in results.cohorts:
            if metric not in c.pcoa or c.metadata is None or phenotype not in c.metadata:
                continue
            coords, explained = c.pcoa[metric]
            panels[c.name] = (coords, explained, c.metadata[phenotype])
            table = c.permanova.get(metric)
            if table is not None:
                row = table[(table["term"] == phenotype) & (table.get("phenotype", phenotype) == phenotype)]
                if len(row):
                    notes[c.name] = (
                        f"PERMANOVA {phenotype}: R² = {100 * float(row['R2'].iloc[0]):.2f}%, "
                        f"p = {format_number(float(row['pval'].iloc[0]))}"
                    )
        if panels:
            out[metric] = figures.draw(figdir, f"pcoa_{metric}", figures.pcoa_panels, panels, phenotype, metric, notes)
    return out


# ---------------------------------------------------------------------- tables
def _tables(results: StudyResults) -> dict[str, object]:
    """Sortable tables: meta-analysis, per-cohort associations, alpha associations, PERMANOVA, pathways, sets."""
    tables: dict[str, object] = dict.fromkeys(("meta", "alpha", "permanova", "pathway_meta"))
    tables["planted"] = None
    if results.planted_summary is not None:
        tables["planted"] = (
            html_table(results.planted_summary, "planted-summary"),
            html_table(results.planted, "planted-table", source="planted/planted_vs_found.tsv"),
        )
    if results.meta is not None:
        tables["meta"] = html_table(
            _meta_view(results.meta), "meta-table", MAX_TABLE_ROWS, source="meta/meta_results.tsv"
        )
    def per_cohort(attribute: str, html_id: str, folder: str) -> list[tuple[str, object]]:
        """A cohort's association table (``attribute`` of its results) per cohort that has one."""
        return [
            (
                c.name,
                html_table(
                    _assoc_view(frame), f"{html_id}-{i}", MAX_TABLE_ROWS, source=f"{folder}/{c.name}/associations.tsv"
                ),
            )
            for i, c in enumerate(results.cohorts)
            if (frame := getattr(c, attribute)) is not None
        ]

    tables["cohorts"] = per_cohort("associations", "assoc", "cohorts")
    alpha = [
        c.alpha_associations.assign(cohort=c.name)
        for c in results.cohorts
        if c.alpha_associations is not None
    ]
    if alpha:
        frame = pd.concat(alpha, ignore_index=True)
        frame = frame.rename(columns={"feature": "index", "metadata": "phenotype"})
        keep = ["cohort", "index", "phenotype", "coef", "stderr", "pval", "qval", "N.used"]
        tables["alpha"] = html_table(frame[[k for k in keep if k in frame]], "alpha-table")
    perm = _permanova_view(results)
    if perm is not None:
        tables["permanova"] = html_table(perm, "permanova-table")
    if results.pathway_meta is not None:
        tables["pathway_meta"] = html_table(
            _meta_view(results.pathway_meta), "pathway-meta-table", MAX_TABLE_ROWS,
            source="pathways/meta/meta_results.tsv",
        )
    tables["pathways"] = per_cohort("pathway_associations", "pathway", "pathways/cohorts")
    tables["mechanisms"] = [
        (
            TITLES.get(name, name),
            html_table(
                frame, f"mechanisms-{name}", MAX_TABLE_ROWS, _selection(frame), source=f"mechanisms/{name}.tsv"
            ),
        )
        for name, frame in results.mechanisms.items()
        if len(frame)
    ]
    return tables


def _selection(frame: pd.DataFrame) -> str:
    """How a table's rows were chosen (the contribution table's ``selected`` label), shown above it."""
    if "selected" not in frame.columns:
        return ""
    return f"pathways selected by {'; '.join(frame['selected'].astype(str).unique())}"


def _assoc_view(table: pd.DataFrame) -> pd.DataFrame:
    view = table.sort_values("pval", na_position="last")
    cols = ["feature", "metadata", "value", "coef", "stderr", "pval", "qval", "N", "N.not.0", "N.used"]
    return view[[c for c in cols if c in view.columns]].rename(columns={"metadata": "phenotype"})


def _meta_view(meta: pd.DataFrame) -> pd.DataFrame:
    view = meta.sort_values("pval", na_position="last")
    weights = [c for c in view.columns if c.startswith("weight_")]
    cols = [
        "feature",
        "exposure",
        "coef",
        "stderr",
        "ci.lb",
        "ci.ub",
        "pval",
        "qval.fdr",
        "k",
        "I2",
        "tau2",
        "pval.tau2",
        "sign_agreement",
        "n_significant",
        "loo_robust",
        *weights,
    ]
    cols = [c for c in cols if c in view.columns and (c not in REPLICATION or view[c].notna().any())]
    return view[cols].rename(columns={"exposure": "phenotype"})


def _permanova_view(results: StudyResults) -> pd.DataFrame | None:
    """The phenotype rows of every PERMANOVA (cohort × distance × phenotype), covariate-adjusted."""
    rows = []
    for c in results.cohorts:
        for metric, table in c.permanova.items():
            for _, row in table.iterrows():
                phenotype = row.get("phenotype", row["term"])
                if row["term"] == phenotype and phenotype in results.phenotypes:
                    rows.append(
                        {
                            "cohort": c.name,
                            "distance": metric,
                            "phenotype": phenotype,
                            **{k: row[k] for k in PERMANOVA_COLUMNS if k in row},
                        }
                    )
    return pd.DataFrame(rows) if rows else None


__all__ = ["render"]
