"""Calibration benchmark: does a method keep its false discovery rate for the phenotype of interest, and how
much does it find? Signal implantation into a real template (Wirbel et al. 2024, Genome Biology).

One *run* (template, n, effect, seed):

1. Samples. ``n`` samples of the template: drawn without replacement when ``n`` is at most the template's
   size, otherwise all samples plus ``n - N`` drawn again with replacement (their counts are redrawn by the
   implantation's resampling, so repeats are not identical copies).
2. Covariates. The user's numeric covariate columns if given (their real association with the table is
   kept); otherwise (e.g. Twins, which has none) simulated: age ~ N(55, 10) years, BMI ~ N(27, 4.5) kg/m²,
   sex ~ Bernoulli(0.5), each implanted into its own random 10% of the prevalent genera with ±0.5 log2 fold
   change per SD, random signs. Covariates that move the microbiome are what make pooling q-values over all
   coefficients (MaAsLin2) a different error rate from the phenotype's.
3. Phenotype. ``y = 0.35 age_z + 0.35 bmi_z + 0.3 sex_z + N(0, 1)`` (user covariates: 0.3 each), so it is
   correlated with covariates that move the microbiome (confounding unless they are adjusted for).
4. Markers. ``marker_fraction`` (10%) of the genera with prevalence ≥ ``marker_prevalence`` (20%), with
   log2 fold change ``+effect, -effect, +effect, …`` per SD of ``y``, implanted with
   :func:`osteobiome.simulate.implant_signal` (markers scaled by ``2**(log2fc z)``, samples re-closed, counts
   re-drawn at their depth: non-markers move by closure, as in real data). Truth: the markers.
5. Null. The same samples, phenotypes drawn the same way (``null_draws`` per seed), no markers: every
   discovery is false.

Repeated samples (``Grid.visits`` > 1): ``n / visits`` subjects are drawn from the template, each seen
``visits`` times. A visit is its subject's profile with every genus scaled by ``2**N(0, VISIT_SD²)`` and the
counts re-drawn at the subject's depth, so subjects differ in both presence and abundance (subject-level
random intercepts in both parts) and visits vary around them. Covariates are per subject; the phenotype gets
a hidden subject-level trait (weight :data:`SUBJECT_WEIGHT`, not adjusted for) besides the per-visit noise,
so its residual is correlated within subjects as the microbiome is: models that ignore the grouping see
pseudo-replicates. Every method is given ``subject`` as its random effect.

Every method is run on the phenotype (adjusting for the covariates) and its q-values of the phenotype
coefficient are compared with the truth: per q threshold the empirical FDR (false / max(discoveries, 1)),
recall (true discoveries / markers), AUPRC (average precision ranking features by p-value, untested
markers count as misses), false discoveries on the null phenotype, and the effect bias
``mean_j sign_j (coef_j - true_j)`` over the markers (log2 fold change per SD; negative = attenuated).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from osteobiome.compute.executors import process_pool
from osteobiome.errors import InputError, suggest
from osteobiome.io.tsv import write_tsv

TWOPART_MEDIAN = {"fdr_scope": "per-variable", "model": "twopart", "compositional": "median"}
#: Candidate methods: name -> (preset of :func:`osteobiome.association.pipeline`, option overrides). Every candidate
#: adjusts for the covariates; the phenotype's q-values are scored.
CANDIDATES: dict[str, tuple[str, dict]] = {
    "maaslin2": ("maaslin2", {}),
    "per-variable": ("maaslin2", {"fdr_scope": "per-variable"}),
    "hc3": ("maaslin2", {"fdr_scope": "per-variable", "variance": "HC3"}),
    "median": ("maaslin2", {"fdr_scope": "per-variable", "compositional": "median"}),
    "linda": ("maaslin2", {"fdr_scope": "per-variable", "compositional": "linda"}),
    "twopart": ("maaslin2", {"fdr_scope": "per-variable", "model": "twopart"}),
    "twopart-median-hc3": ("maaslin2", {**TWOPART_MEDIAN, "variance": "HC3"}),
    "twopart-median-both": ("maaslin2", {**TWOPART_MEDIAN, "compositional_prevalence": True}),
    "twopart-median-depth": ("maaslin2", {**TWOPART_MEDIAN, "depth_covariate": "both"}),
    "twopart-median-beta": ("maaslin2", {**TWOPART_MEDIAN, "joint": "beta"}),
    "default": ("default", {}),  # = TWOPART_MEDIAN, joint="cauchy" (the chosen default; benchmarks/RESULTS.md)
    # linear mixed models + median + BH per variable: what the default fitted with random effects before issue 16
    "lmm": ("default", {"model": "lm"}),
}

#: The standard grid's methods: the issue's candidates (MaAsLin2; BH per variable; compositional corrections;
#: two-part; HC3) and the default. The other variants run with ``--methods``.
STANDARD_METHODS = ("maaslin2", "per-variable", "hc3", "median", "linda", "twopart", "twopart-median-beta", "default")

COVARIATE_EFFECT = 0.5
COVARIATE_FRACTION = 0.1
PHENOTYPE_WEIGHTS = {"age": 0.35, "bmi": 0.35, "sex": 0.3}
USER_WEIGHT = 0.3
PHENOTYPE = "phenotype"
SUBJECT = "subject"
VISIT_SD = 1.0  # log2 sd of a genus between visits of one subject
SUBJECT_WEIGHT = 1.0  # weight of the hidden subject-level trait in the phenotype


@dataclass(frozen=True)
class Grid:
    """What to run: effects (log2 fold change per SD), sample sizes, seeds, q thresholds and methods."""

    effects: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    sizes: tuple[int, ...] = (150, 278, 500)
    seeds: int = 100
    null_draws: int = 3
    q_levels: tuple[float, ...] = (0.05, 0.1, 0.25)
    methods: tuple[str, ...] = STANDARD_METHODS
    marker_fraction: float = 0.1
    marker_prevalence: float = 0.2
    base_seed: int = 2024
    visits: int = 1


STANDARD = Grid()
SMALL = Grid(effects=(0.5,), sizes=(120,), seeds=2, null_draws=1)
#: Repeated samples (4 visits per subject): the two-part mixed model against linear mixed models.
REPEATED = Grid(
    effects=(0.25, 0.5, 1.0), sizes=(240,), seeds=30, null_draws=2, visits=4, methods=("maaslin2", "lmm", "default")
)


def simulate_covariates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """age (years), bmi (kg/m²), sex (0/1) for ``n`` samples (index set by the caller)."""
    return pd.DataFrame(
        {
            "age": rng.normal(55.0, 10.0, n),
            "bmi": rng.normal(27.0, 4.5, n),
            "sex": rng.integers(0, 2, n).astype(float),
        }
    )


def prevalent_features(counts: pd.DataFrame, min_prevalence: float) -> pd.Index:
    """Features present (count > 0) in at least ``min_prevalence`` of the samples."""
    return counts.columns[(counts.to_numpy() > 0).mean(axis=0) >= min_prevalence]


def choose_markers(
    candidates: pd.Index, fraction: float, effect: float, rng: np.random.Generator
) -> pd.Series:
    """``fraction`` of ``candidates`` (at least 1), log2 fold change ``+effect, -effect, …`` (feature index)."""
    k = max(1, round(fraction * len(candidates)))
    chosen = rng.choice(np.asarray(candidates), size=k, replace=False)
    signs = np.where(np.arange(k) % 2 == 0, 1.0, -1.0)
    return pd.Series(effect * signs, index=pd.Index(chosen, name="feature"), name="log2fc")


def draw_samples(template: pd.DataFrame, n: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions of ``n`` template samples (without replacement up to the template's size, then repeats)."""
    size = len(template)
    if n <= size:
        return np.sort(rng.choice(size, size=n, replace=False))
    return np.concatenate([np.arange(size), rng.choice(size, size=n - size, replace=True)])


def average_precision(pval: np.ndarray, is_marker: np.ndarray, n_markers: int) -> float:
    """Area under the precision-recall curve ranking by p-value (NaN last; missing markers count as misses)."""
    order = np.argsort(np.where(np.isnan(pval), np.inf, pval), kind="stable")
    hits = is_marker[order] & ~np.isnan(pval[order])
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(np.sum(precision[hits]) / n_markers) if n_markers else np.nan


def score(result: pd.DataFrame, truth: pd.Series, q_levels: Sequence[float]) -> list[dict]:
    """Metrics of one method on one run: one dict per q threshold (``truth`` empty = null phenotype)."""
    features = result["feature"].astype(str).to_numpy()
    is_marker = np.isin(features, truth.index.astype(str))
    qval = result["qval"].to_numpy(dtype=float)
    n_markers = len(truth)
    auprc = average_precision(result["pval"].to_numpy(dtype=float), is_marker, n_markers)
    coef = pd.Series(result["coef"].to_numpy(dtype=float), index=features)
    true = truth.rename(index=str)
    bias = float(np.nanmean(np.sign(true) * (coef.reindex(true.index) - true))) if n_markers else np.nan
    rows = []
    for q in q_levels:
        found = np.nan_to_num(qval, nan=1.0) <= q
        false = int(np.sum(found & ~is_marker))
        rows.append(
            {
                "q": q,
                "discoveries": int(found.sum()),
                "false_discoveries": false,
                "fdr": false / max(int(found.sum()), 1),
                "recall": float(np.sum(found & is_marker) / n_markers) if n_markers else np.nan,
                "auprc": auprc,
                "bias": bias,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class Template:
    """A real table to implant into: ``counts`` (samples × features) and optional user ``covariates``
    (numeric, indexed like ``counts``; None = simulate age/BMI/sex and their effects)."""

    counts: pd.DataFrame
    covariates: pd.DataFrame | None = None
    name: str = "template"


def load_template(path, metadata=None, covariates: Sequence[str] = ()) -> Template:  # noqa: ANN001
    """A template from a feature table file (any format :func:`osteobiome.io.read_features` reads) and,
    optionally, a metadata file whose numeric ``covariates`` columns are used instead of simulated ones.
    Samples with a missing covariate are left out."""
    from pathlib import Path

    from osteobiome.io import read_features, read_metadata

    if covariates and metadata is None:
        raise InputError("--covariates needs --metadata (the file that holds those columns).")
    meta = read_metadata(metadata) if metadata is not None else None
    data = read_features(path, sample_ids=None if meta is None else meta.index)
    counts = data.table
    counts = counts.loc[counts.sum(axis=1) > 0]
    chosen = None
    if covariates:
        for column in covariates:
            if column not in meta.columns:
                raise InputError(f"{metadata}: no column {column!r}{suggest(column, meta.columns)}.")
            if not pd.api.types.is_numeric_dtype(meta[column]):
                raise InputError(
                    f"{metadata}: covariate {column!r} is not numeric; code it as numbers (e.g. 0/1)."
                )
        chosen = meta.loc[meta.index.intersection(counts.index), list(covariates)].dropna()
        if len(chosen) < 20:
            raise InputError(
                f"{metadata}: only {len(chosen)} samples have the table and every covariate; need 20."
            )
        counts = counts.loc[chosen.index]
    return Template(counts, chosen, Path(path).name)


def _relabel(frame: pd.DataFrame) -> pd.DataFrame:
    """Unique sample ids ``s0001 …`` (a template sample drawn twice becomes two samples)."""
    frame = frame.copy()
    frame.index = pd.Index([f"s{i:04d}" for i in range(len(frame))], name="sample")
    return frame


def _implant(
    counts: pd.DataFrame,
    covariates: pd.DataFrame,
    markers: pd.Series,
    weights: dict[str, float],
    noise_sd: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`osteobiome.simulate.implant_signal`: phenotype ``y = sum_c w_c z_c + noise_sd * N(0, 1)``,
    each marker multiplied by ``2**(log2fc * z)`` (z = standardized y), re-closed and re-drawn at its depth."""
    from osteobiome.simulate import implant_signal

    result = implant_signal(
        counts,
        covariates,
        markers=list(markers.index),
        effect=markers.to_numpy(),
        covariate_weights=weights,
        noise_sd=noise_sd,
        phenotype=PHENOTYPE,
        seed=rng,
    )
    return result.table, result.metadata[PHENOTYPE]


def _covariate_signal(
    counts: pd.DataFrame, covariates: pd.DataFrame, candidates: pd.Index, rng: np.random.Generator
) -> pd.DataFrame:
    """Each simulated covariate moves its own random 10% of ``candidates`` by ±0.5 log2 FC per SD."""
    for column in covariates.columns:
        effects = choose_markers(candidates, COVARIATE_FRACTION, COVARIATE_EFFECT, rng)
        effects = effects * rng.choice([-1.0, 1.0], size=len(effects))
        counts, _ = _implant(counts, covariates, effects, {column: 1.0}, 0.0, rng)
    return counts


def run_method(
    name: str,
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    phenotype: str,
    covariates: Sequence[str],
    random: Sequence[str] = (),
) -> pd.DataFrame:
    """``feature coef pval qval`` of ``phenotype`` for candidate ``name`` (covariates adjusted for, random
    intercepts for ``random``)."""
    from osteobiome.association.pipeline import associate

    preset, options = CANDIDATES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = associate(counts, metadata, fixed=[phenotype, *covariates], random=random, preset=preset, **options)
    return result.loc[result["metadata"] == phenotype, ["feature", "coef", "pval", "qval"]]


def _score_methods(
    methods: Sequence[str],
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    covariates: Sequence[str],
    truth: pd.Series,
    q_levels: Sequence[float],
    labels: dict,
    random: Sequence[str] = (),
) -> list[dict]:
    rows = []
    for name in methods:
        start = time.perf_counter()
        result = run_method(name, counts, metadata, PHENOTYPE, covariates, random)
        seconds = time.perf_counter() - start
        rows.extend(
            {"method": name, **labels, **r, "seconds": seconds} for r in score(result, truth, q_levels)
        )
    return rows


@dataclass(frozen=True)
class PreparedRun:
    """One (n, seed) of a grid before any phenotype: the drawn samples (``counts``, with the covariate signal
    when the covariates are simulated), ``covariates``, the phenotype's covariate ``weights``, the marker
    ``candidates`` and the run's ``rng`` (consumed by :meth:`plan` and :meth:`implant` in that order); with
    repeated samples, ``subject`` (per sample) and ``hidden`` (the subject-level trait in the phenotype)."""

    grid: Grid
    counts: pd.DataFrame
    covariates: pd.DataFrame
    weights: dict[str, float]
    candidates: pd.Index
    rng: np.random.Generator
    subject: pd.Series | None = None
    hidden: pd.DataFrame | None = None

    def plan(self) -> Iterator[tuple[pd.Series, pd.Series, float, int]]:
        """``(markers, truth, effect, draw)``: the ``null_draws`` null phenotypes (one "marker" with log2 FC 0:
        the table is only re-drawn at its depth), then each effect's markers, drawn when reached."""
        no_signal = pd.Series([0.0], index=self.candidates[:1])
        for draw in range(self.grid.null_draws):
            yield no_signal, no_signal.iloc[:0], 0.0, draw
        for effect in self.grid.effects:
            markers = choose_markers(self.candidates, self.grid.marker_fraction, effect, self.rng)
            yield markers, markers, effect, 0

    def implant(self, markers: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The table with ``markers`` implanted and the metadata (covariates + the drawn :data:`PHENOTYPE`, and
        :data:`SUBJECT` with repeated samples)."""
        drivers = self.covariates if self.hidden is None else self.covariates.join(self.hidden)
        table, phenotype = _implant(self.counts, drivers, markers, self.weights, 1.0, self.rng)
        metadata = self.covariates.assign(**{PHENOTYPE: phenotype})
        return table, metadata if self.subject is None else metadata.assign(**{SUBJECT: self.subject})


def prepare_run(template: Template, grid: Grid, n: int, seed: int) -> PreparedRun:
    """Draw the samples of (n, seed) (rng ``[grid.base_seed, seed, n]``) and their covariates: the template's, or
    simulated ones with the covariate signal."""
    rng = np.random.default_rng([grid.base_seed, seed, n])
    if grid.visits > 1:
        return _prepare_repeated(template, grid, n, rng)
    rows = draw_samples(template.counts, n, rng)
    counts = _relabel(template.counts.iloc[rows])
    if template.covariates is None:
        covariates = simulate_covariates(n, rng).set_axis(counts.index)
        counts = _covariate_signal(
            counts, covariates, prevalent_features(counts, grid.marker_prevalence), rng
        )
        weights = PHENOTYPE_WEIGHTS
    else:
        covariates = _relabel(template.covariates.iloc[rows])
        weights = dict.fromkeys(covariates.columns, USER_WEIGHT)
    return PreparedRun(grid, counts, covariates, weights, prevalent_features(counts, grid.marker_prevalence), rng)


def _prepare_repeated(template: Template, grid: Grid, n: int, rng: np.random.Generator) -> PreparedRun:
    """``n // grid.visits`` subjects × ``grid.visits`` visits (module docstring), simulated covariates per subject."""
    if template.covariates is not None:
        raise InputError("repeated samples (visits > 1) simulate their covariates; drop --covariates.")
    subjects = n // grid.visits
    rows = draw_samples(template.counts, subjects, rng)
    base = template.counts.iloc[rows].to_numpy(dtype=float)
    depth = np.repeat(base.sum(axis=1), grid.visits)
    rel = np.repeat(base / base.sum(axis=1, keepdims=True), grid.visits, axis=0)
    rel *= np.exp2(VISIT_SD * rng.standard_normal(rel.shape))
    rel /= rel.sum(axis=1, keepdims=True)
    counts = _relabel(pd.DataFrame(rng.multinomial(depth.astype(np.int64), rel).astype(float), columns=template.counts.columns))
    per_visit = np.repeat(np.arange(subjects), grid.visits)
    covariates = simulate_covariates(subjects, rng).iloc[per_visit].set_axis(counts.index)
    hidden = pd.DataFrame({"subject_trait": rng.standard_normal(subjects)[per_visit]}, index=counts.index)
    counts = _covariate_signal(counts, covariates, prevalent_features(counts, grid.marker_prevalence), rng)
    subject = pd.Series([f"p{i:03d}" for i in per_visit], index=counts.index, name=SUBJECT)
    weights = PHENOTYPE_WEIGHTS | {"subject_trait": SUBJECT_WEIGHT}
    return PreparedRun(
        grid, counts, covariates, weights, prevalent_features(counts, grid.marker_prevalence), rng, subject, hidden
    )


def run_one(template: Template, grid: Grid, n: int, seed: int) -> list[dict]:
    """All methods on one (n, seed): the null phenotypes, then each effect of the grid (same samples)."""
    prepared = prepare_run(template, grid, n, seed)
    names = list(prepared.covariates.columns)
    random = () if prepared.subject is None else (SUBJECT,)
    out = []
    for markers, truth, effect, draw in prepared.plan():
        table, metadata = prepared.implant(markers)
        labels = {"n": n, "seed": seed, "effect": effect, "draw": draw}
        out += _score_methods(grid.methods, table, metadata, names, truth, grid.q_levels, labels, random)
    return out


def run(template: Template, grid: Grid, workers: int = 1) -> pd.DataFrame:
    """Every (n, seed) of ``grid`` on ``template``: one row per method × n × effect × seed × q
    (``effect`` 0 = the null phenotype). ``workers`` > 1 runs (n, seed) tasks in processes."""
    unknown = [m for m in grid.methods if m not in CANDIDATES]
    if unknown:
        raise InputError(
            f"benchmark method {unknown[0]!r} is not known{suggest(unknown[0], CANDIDATES)}; "
            f"use one of {', '.join(CANDIDATES)}."
        )
    tasks = [(n, seed) for n in grid.sizes for seed in range(grid.seeds)]
    if workers > 1:
        with process_pool(workers) as pool:
            parts = list(
                pool.map(run_one, [template] * len(tasks), [grid] * len(tasks), *zip(*tasks, strict=True))
            )
    else:
        parts = [run_one(template, grid, n, seed) for n, seed in tasks]
    return pd.DataFrame([row for part in parts for row in part])


# ------------------------------------------------------------------------------------------ summaries
METRICS = ("fdr", "recall", "auprc", "false_discoveries", "any_false", "bias")


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD over runs (seeds; × null draws for effect 0) of every metric, per method × n × effect × q
    (``any_false``: whether a run made at least one false discovery)."""
    runs = runs.assign(any_false=(runs["false_discoveries"] > 0).astype(float))
    grouped = runs.groupby(["method", "n", "effect", "q"], sort=True)
    summary = grouped[list(METRICS)].agg(["mean", "std"])
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    summary["runs"] = grouped.size()
    return summary.reset_index()


def check_criteria(
    summary: pd.DataFrame,
    method: str = "default",
    baseline: str = "maaslin2",
    q: float = 0.1,
    max_fdr: float = 0.1,
    max_null: float = 0.1,
) -> pd.DataFrame:
    """The acceptance criteria at ``q``, one row per (n, effect): mean FDR ≤ ``max_fdr`` (``fdr_ok``, literally:
    the mean over the runs; its standard error SD / √runs is ``fdr_se``) and recall
    ≥ the baseline's (``recall_ok``; at matched FDR: AUPRC ≥ the baseline's, ``auprc_ok``) with signal; without
    signal (``null_ok``, as restated in issue 16) at most ``max_null`` false discoveries per null run on average
    **or** P(any false discovery) ≤ ``q``, each within two standard errors over the runs. ``ok`` is the row's
    verdict (FDR and recall at q with signal). ``attrs`` keep the arguments (for :func:`criteria_text`)."""
    at_q = summary[summary["q"] == q].set_index(["method", "n", "effect"])
    mine, base = at_q.loc[method], at_q.loc[baseline]
    se = 1.0 / np.sqrt(mine["runs"])
    out = pd.DataFrame(
        {
            "fdr": mine["fdr_mean"],
            "fdr_se": se * mine["fdr_std"].fillna(0.0),
            "recall": mine["recall_mean"],
            "baseline_recall": base["recall_mean"],
            "auprc": mine["auprc_mean"],
            "baseline_auprc": base["auprc_mean"],
            "null_fd": mine["false_discoveries_mean"],
            "null_any": mine["any_false_mean"],
        }
    )
    signal = out.index.get_level_values("effect") > 0
    out["fdr_ok"] = out["fdr"] <= max_fdr
    out["recall_ok"] = out["recall"] >= out["baseline_recall"]
    out["auprc_ok"] = out["auprc"] >= out["baseline_auprc"]
    out["null_ok"] = (out["null_fd"] - 2 * se * mine["false_discoveries_std"].fillna(0.0) <= max_null) | (
        out["null_any"] - 2 * se * mine["any_false_std"].fillna(0.0) <= q
    )
    out["ok"] = np.where(signal, out["fdr_ok"] & out["recall_ok"], out["null_ok"])
    out = out.reset_index()
    out.attrs.update(method=method, baseline=baseline, q=q, max_fdr=max_fdr, max_null=max_null)
    return out


def _markdown(table: pd.DataFrame) -> str:
    """A pipe table (no extra dependency): index then columns."""
    header = [str(table.index.name or "")] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join([str(i)] + [str(v) for v in row]) + " |"
        for i, row in zip(table.index, table.to_numpy(), strict=True)
    ]
    return "\n".join(lines)


def _mean_sd(mean: pd.Series, sd: pd.Series, digits: int = 3) -> pd.Series:
    return mean.round(digits).astype(str) + " ± " + sd.fillna(0.0).round(digits).astype(str)


def markdown_tables(summary: pd.DataFrame, q: float = 0.1) -> str:
    """Markdown: FDR and recall (mean ± SD over seeds) per method × (n, effect) at ``q``; null false
    discoveries per run at every q; AUPRC and effect bias."""
    at_q = summary[summary["q"] == q]
    signal = at_q[at_q["effect"] > 0]
    parts = []
    for metric, title in (
        ("fdr", "empirical FDR"),
        ("recall", "recall"),
        ("auprc", "AUPRC"),
        ("bias", "effect bias"),
    ):
        cell = _mean_sd(signal[f"{metric}_mean"], signal[f"{metric}_std"])
        table = signal.assign(cell=cell).pivot(index="method", columns=["n", "effect"], values="cell")
        table.columns = [f"n={n} e={e:g}" for n, e in table.columns]
        label = f" at q = {q:g}" if metric in ("fdr", "recall") else ""
        parts.append(f"**{title}{label}** (mean ± SD over seeds; e = log2 FC per SD)\n\n{_markdown(table)}")
    null = summary[summary["effect"] == 0]
    cell = _mean_sd(null["false_discoveries_mean"], null["false_discoveries_std"], 2)
    table = null.assign(cell=cell).pivot(index="method", columns=["q", "n"], values="cell")
    table.columns = [f"q={qq:g} n={n}" for qq, n in table.columns]
    parts.append(
        f"**false discoveries per run on the null phenotype** (mean ± SD over seeds × null draws)\n\n{_markdown(table)}"
    )
    return "\n\n".join(parts)


def standard_error_table(summary: pd.DataFrame, q: float = 0.1) -> str:
    """Markdown: per method × n × effect at ``q``, the mean ± standard error (SD / √runs) of FDR, recall and AUPRC
    with signal, and of false discoveries per run and P(any false discovery) on the null phenotype (effect 0)."""
    at_q = summary[summary["q"] == q].sort_values(["method", "n", "effect"])

    def cell(row: pd.Series, metric: str) -> str:
        se = np.nan_to_num(row[f"{metric}_std"]) / np.sqrt(row["runs"])
        return f"{row[f'{metric}_mean']:.3f} ± {se:.3f}"

    header = "| method | n | effect | runs | FDR | recall | AUPRC | false discoveries per null run | P(any) |"
    lines = [header, "|" + "---|" * 9]
    for _, row in at_q.iterrows():
        signal = row["effect"] > 0
        values = [cell(row, m) if signal else "" for m in ("fdr", "recall", "auprc")]
        values += [cell(row, m) if not signal else "" for m in ("false_discoveries", "any_false")]
        lines.append(f"| {row['method']} | {row['n']} | {row['effect']:g} | {row['runs']} | " + " | ".join(values) + " |")
    return f"**at q = {q:g}: mean ± standard error over the runs** (effect 0 = null phenotypes)\n\n" + "\n".join(lines)


def write_outputs(runs: pd.DataFrame, out, q: float = 0.1) -> pd.DataFrame:
    """Write ``runs.tsv``, ``summary.tsv``, ``criteria.tsv`` (if a default and maaslin2 ran),
    ``calibration.md`` and ``calibration.png`` into the existing folder ``out``; return the summary."""
    from pathlib import Path

    out = Path(out)
    summary = summarize(runs)
    write_tsv(runs, out / "runs.tsv")
    write_tsv(summary, out / "summary.tsv")
    text = markdown_tables(summary, q)
    if {"default", "maaslin2"} <= set(runs["method"]):
        criteria = check_criteria(summary, q=q)
        write_tsv(criteria, out / "criteria.tsv")
        text += "\n\n" + criteria_text(criteria)
    (out / "calibration.md").write_text(text + "\n")
    plot(summary, out / "calibration.png", q)
    return summary


def criteria_text(criteria: pd.DataFrame) -> str:
    """One paragraph from :func:`check_criteria`'s table (its verdicts and thresholds): are the criteria met,
    with the worst cells."""
    a = criteria.attrs
    signal, null = criteria[criteria["effect"] > 0], criteria[criteria["effect"] == 0]
    worst, worst_null = signal.loc[signal["fdr"].idxmax()], null.loc[null["null_fd"].idxmax()]

    def yes(column: pd.Series) -> str:
        return "yes" if column.all() else "no"

    return (
        f"**criteria at q = {a['q']:g}** — {a['method']}'s mean empirical FDR ≤ {a['max_fdr']:g} in every cell: "
        f"{yes(signal['fdr_ok'])} (highest {worst['fdr']:.3f} ± {worst['fdr_se']:.3f} SE at n = {worst['n']}, "
        f"effect {worst['effect']:g}); "
        f"null false discoveries per run ≤ {a['max_null']:g} or P(any) ≤ {a['q']:g} (within 2 SE) at every n: "
        f"{yes(null['null_ok'])} (highest {worst_null['null_fd']:.3f} per run, P(any) {worst_null['null_any']:.3f}, "
        f"at n = {worst_null['n']}); recall ≥ {a['baseline']} in every cell: {yes(signal['recall_ok'])} "
        f"(mean {signal['recall'].mean():.3f} vs {signal['baseline_recall'].mean():.3f}); AUPRC ≥ {a['baseline']} "
        f"in every cell: {yes(signal['auprc_ok'])} (mean {signal['auprc'].mean():.3f} vs "
        f"{signal['baseline_auprc'].mean():.3f})."
    )


def plot(summary: pd.DataFrame, path, q: float = 0.1) -> None:
    """Write :func:`figure` as a PNG to ``path``."""
    fig = figure(summary, q)  # selects the Agg backend before pyplot is imported here
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure(summary: pd.DataFrame, q: float = 0.1):  # noqa: ANN201 (matplotlib Figure)
    """Empirical FDR (top) and recall (bottom) vs effect at ``q`` (error bars: standard error over runs), one
    column per n, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    at_q = summary[(summary["q"] == q) & (summary["effect"] > 0)]
    sizes = sorted(at_q["n"].unique())
    fig, axes = plt.subplots(2, len(sizes), figsize=(4 * len(sizes), 6.5), sharey="row", squeeze=False)
    effects = sorted(at_q["effect"].unique())
    for col, n in enumerate(sizes):
        for method, rows in at_q[at_q["n"] == n].groupby("method"):
            width = 2.5 if method in ("default", "maaslin2") else 1.0
            for row, metric in enumerate(("fdr", "recall")):
                axes[row, col].errorbar(
                    rows["effect"],
                    rows[f"{metric}_mean"],
                    yerr=rows[f"{metric}_std"] / np.sqrt(rows["runs"]),
                    marker="o",
                    capsize=2,
                    linewidth=width,
                    label=method,
                )
        axes[0, col].axhline(q, color="grey", linestyle="--", linewidth=1)
        axes[0, col].set_title(f"n = {n}")
        for row, label in enumerate((f"empirical FDR (q = {q:g})", "recall")):
            axes[row, col].set_xscale("log")
            axes[row, col].set_xticks(effects, [f"{e:g}" for e in effects])
            axes[row, col].set_xlabel("log2 fold change per SD")
            axes[row, 0].set_ylabel(label)
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig
