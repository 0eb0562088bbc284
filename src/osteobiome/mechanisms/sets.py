"""Set-level (trait / mechanism group) tests: is a group's association with a phenotype shifted?

Competitive tests compare the features of a set with all other features, so the question is "do butyrate
producers associate with tibia vBMD *more* than the average genus?", not "is anything in the set associated?".
Features of a set are correlated (they co-vary across samples), which inflates the variance of their mean
statistic; ignoring it (gene-permutation, Fisher over hits) gives far too many false positives.

- :func:`camera` — CAMERA (Wu & Smyth 2012, Nucleic Acids Res 40:e133, doi:10.1093/nar/gks461), written from
  the paper's formulas: per-feature t statistics are turned into z scores; for a set of ``m`` features with
  mean inter-feature residual correlation ``rho`` the variance of the set mean is inflated by
  ``VIF = 1 + (m - 1) * rho``; the statistic is a two-sample t comparing set vs rest with ``G - 2`` df.
  By default the variance of the set-minus-rest contrast uses the full residual correlation matrix
  (``variance="full"``), which also accounts for correlation among the other features.
- :func:`permutation_set_test` — a sample-permutation version: the phenotype (residualized on the covariates,
  Kennedy's scheme) is permuted across samples, all per-feature t statistics are recomputed, and the observed
  set-minus-rest mean of t is referred to its permutation distribution; inter-feature correlation is kept
  intact by construction.
- :func:`meta_set_results` — combines per-cohort set results (see its docstring for the method).

All functions are pure and work on numpy arrays / pandas objects. :func:`ols_phenotype_fit` gives the
per-feature t statistics and residuals (design from :mod:`osteobiome.stats.design`, fit by ``models.lm.fit_lm``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.stats.design import build_design
from osteobiome.stats.distributions import normal_isf, normal_sf, t_sf
from osteobiome.stats.lm import fit_lm
from osteobiome.stats.multitest import adjust

SET_COLUMNS = [
    "set",
    "n_features",
    "correlation",
    "vif",
    "effect",
    "statistic",
    "direction",
    "pval",
    "qval",
]


@dataclass(frozen=True)
class PhenotypeFit:
    """Per-feature OLS of ``feature ~ phenotype + covariates``.

    ``coef``/``stderr``/``t`` are Series indexed by feature (the phenotype's coefficient); ``residuals`` is
    samples × features; ``df`` the residual degrees of freedom ``n - p``; ``n`` the samples used.
    """

    coef: pd.Series
    stderr: pd.Series
    t: pd.Series
    residuals: pd.DataFrame
    df: int
    n: int


def t_to_z(t: np.ndarray, df: float) -> np.ndarray:
    """Quantile-matched z score of a t statistic: ``z = sign(t) * Phi^-1(1 - F_t(|t|; df))`` (tail-accurate)."""
    t = np.asarray(t, dtype=float)
    if np.isinf(df):
        return t.copy()
    return np.sign(t) * normal_isf(t_sf(np.abs(t), df))


def _design(metadata: pd.DataFrame, phenotype: str, covariates: Iterable[str]) -> pd.DataFrame:
    """:func:`~osteobiome.stats.design.build_design` of ``~ phenotype + covariates`` (the phenotype z-scored on
    the complete samples, sample SD, so coefficients and set effects are per SD of the phenotype, as in the
    association tables; covariates not standardized; categoricals
    as treatment dummies against their first level; covariates constant on the complete samples, e.g. sex in an
    all-male cohort, left out with a warning) as a frame indexed by the complete samples."""
    covariates = list(covariates)
    missing = [c for c in [phenotype, *covariates] if c not in metadata.columns]
    if missing:
        raise InputError(
            f"metadata: column(s) {preview(missing)} not found; choose from {preview(metadata.columns)}."
        )
    if not pd.api.types.is_numeric_dtype(metadata[phenotype]):
        raise InputError(f"metadata column '{phenotype}': the set test needs a numeric phenotype; recode it.")
    complete = metadata[[phenotype, *covariates]].dropna()
    if constant := [c for c in covariates if complete[c].nunique() < 2]:
        warnings.warn(f"set test: covariate(s) {preview(constant)} constant in this cohort; left out.", stacklevel=3)
        covariates = [c for c in covariates if c not in constant]
    reference = {
        c: sorted(metadata[c].dropna().astype(str).unique())[0]
        for c in covariates
        if not pd.api.types.is_numeric_dtype(metadata[c]) and metadata[c].nunique() > 2
    }
    design = build_design(metadata, [phenotype, *covariates], reference, standardize=False)
    frame = pd.DataFrame(design.matrix, index=design.samples, columns=design.columns)
    values = frame[phenotype]
    frame[phenotype] = (values - values.mean()) / values.std(ddof=1)  # coefficients per SD of the phenotype
    return frame


def ols_phenotype_fit(
    features: pd.DataFrame, metadata: pd.DataFrame, phenotype: str, covariates: Iterable[str] = ()
) -> PhenotypeFit:
    """OLS (:func:`~osteobiome.stats.lm.fit_lm`) of every column of ``features`` (samples × features, already
    transformed, e.g. log) on the design; residuals ``Y - X coef``.

    Samples are matched by index; samples with a missing phenotype or covariate are dropped.
    """
    design = _design(metadata, phenotype, covariates)
    shared = features.index.intersection(design.index)
    if len(shared) == 0:
        raise InputError(
            f"features and metadata share no sample ids (features: {preview(features.index)}; "
            f"metadata: {preview(metadata.index)}); check the sample id column."
        )
    X = design.loc[shared].to_numpy()
    Y = features.loc[shared].to_numpy(dtype=float)
    n, p = X.shape
    if n <= p:
        raise InputError(f"set test: {n} samples for {p} model terms; add samples or drop covariates.")
    fit = fit_lm(Y, X)
    j = design.columns.get_loc(phenotype)
    cols = features.columns
    return PhenotypeFit(
        coef=pd.Series(fit.coef[j], index=cols),
        stderr=pd.Series(fit.stderr[j], index=cols),
        t=pd.Series(fit.tval[j], index=cols),
        residuals=pd.DataFrame(Y - X @ fit.coef, index=shared, columns=cols),
        df=n - p,
        n=n,
    )


def _unit_residuals(residuals: pd.DataFrame | np.ndarray, features: pd.Index) -> np.ndarray:
    """Residual columns centred and scaled to unit length (samples × features), aligned to ``features``."""
    if isinstance(residuals, pd.DataFrame):
        missing = features.difference(residuals.columns)
        if len(missing):
            raise InputError(
                f"set test: residuals lack feature(s) {preview(missing)}; pass residuals of all features."
            )
        R = residuals[features].to_numpy(dtype=float)
    else:
        R = np.asarray(residuals, dtype=float)
        if R.ndim != 2 or R.shape[1] != len(features):
            raise InputError(
                f"set test: residual matrix has shape {R.shape}; expected samples × {len(features)} features."
            )
    R = R - R.mean(axis=0)
    norm = np.linalg.norm(R, axis=0)
    norm[norm == 0] = np.inf  # constant features contribute no correlation
    return R / norm


def _resolve_sets(
    sets: Mapping[str, Iterable[str]], features: pd.Index, min_size: int
) -> dict[str, np.ndarray]:
    """Set name -> boolean membership over ``features``; sets with fewer than ``min_size`` members are dropped."""
    resolved = {}
    for name, members in sets.items():
        mask = features.isin(list(members))
        if min_size <= mask.sum() < len(features):
            resolved[str(name)] = mask
    return resolved


def camera(
    statistics: pd.Series,
    sets: Mapping[str, Iterable[str]],
    residuals: pd.DataFrame | np.ndarray | None = None,
    correlation: float | None = None,
    df: float = np.inf,
    coefficients: pd.Series | None = None,
    min_size: int = 3,
    variance: str = "full",
    allow_negative_correlation: bool = False,
) -> pd.DataFrame:
    """CAMERA competitive test of each set against the other features.

    ``statistics``: per-feature t statistics (index = feature). ``df``: their degrees of freedom (turned into
    z scores by :func:`t_to_z`; ``inf`` if they are already z). Inter-feature correlation comes from
    ``residuals`` (samples × features, e.g. OLS residuals of every feature on the same design) or, if no
    residuals are given, from a fixed ``correlation`` for every set (limma's ``inter.gene.cor``).

    For a set of ``m`` of ``G`` features (``m2 = G - m``), with z scores ``z`` and contrast weights
    ``w = 1/m`` (set), ``-1/m2`` (rest)::

        delta  = w'z = mean(z_set) - mean(z_rest)
        s2     = ((G - 1) var(z) - delta^2 m m2 / G) / (G - 2)          (pooled variance of z)
        t      = delta / sqrt(s2 * V),   p = 2 P(T_{G-2} > |t|)

    ``variance="camera"`` (Wu & Smyth 2012, limma's ``camera``): ``V = VIF/m + 1/m2`` with
    ``VIF = 1 + (m - 1) rho`` and ``rho`` the mean pairwise residual correlation within the set (negative
    ``rho`` set to 0 unless ``allow_negative_correlation``); features outside the set are treated as
    uncorrelated. ``variance="full"`` (default, needs ``residuals``): ``V = w'Cw`` with ``C`` the residual
    correlation matrix of all features, computed as ``||R_unit w||^2`` — the exact variance of the
    contrast, which reduces to the CAMERA formula when the rest is uncorrelated and stays calibrated when
    many features share a study-wide factor (common in compositional microbiome data). In this mode ``s2``
    is also divided by ``1 - rbar`` (``rbar``: mean off-diagonal residual correlation of all features),
    because the sample variance of correlated statistics underestimates their variance by that factor.
    ``vif`` is reported as ``V / (1/m + 1/m2)`` (inflation over independent features) and ``correlation``
    as the within-set ``rho``.

    ``effect`` is the mean coefficient of the set minus the mean of the rest when ``coefficients`` are given
    (units of the model's coefficient, e.g. log2 abundance per SD of phenotype), else ``delta``.
    Returns one row per set (sets with fewer than ``min_size`` features present are skipped) with columns
    :data:`SET_COLUMNS`, sorted by p; ``qval`` is BH over the sets of this call.
    """
    if variance not in ("full", "camera"):
        raise InputError(f"set test: variance '{variance}' is unknown; use 'full' or 'camera'.")
    stat = pd.Series(statistics, dtype=float).dropna()
    features = pd.Index(stat.index.astype(str))
    stat.index = features
    G = len(features)
    if G < 3:
        raise InputError(f"set test: {G} features with a statistic; at least 3 are needed.")
    if residuals is None and (correlation is None or variance == "full"):
        if correlation is None:
            raise InputError("set test: pass residuals (samples × features) or a fixed correlation.")
        variance = "camera"  # a fixed correlation only defines the within-set VIF
    z = t_to_z(stat.to_numpy(), df)
    unit = _unit_residuals(residuals, features) if residuals is not None else None
    coef = None
    if coefficients is not None:
        coef = pd.Series(coefficients, dtype=float).reindex(features).to_numpy()
    var_all = z.var(ddof=1)
    spread = 1.0  # E[sample variance of z] / Var(z): 1 - mean off-diagonal correlation of the features
    if variance == "full":
        total = unit.sum(axis=1)
        mean_offdiagonal = (total @ total - G) / (G * (G - 1))
        spread = max(1.0 - mean_offdiagonal, 0.05)
    rows = []
    for name, mask in _resolve_sets(sets, features, min_size).items():
        m = int(mask.sum())
        m2 = G - m
        independent = 1.0 / m + 1.0 / m2
        in_set = unit[:, mask].sum(axis=1) if unit is not None else None  # summed unit residuals of the set
        if correlation is not None and unit is None:
            rho = float(correlation)
        else:
            rho = (in_set @ in_set - m) / (m * (m - 1))
        if variance == "full":
            contrast = in_set / m - (total - in_set) / m2
            v = max(float(contrast @ contrast), 1e-12)
        else:
            if not allow_negative_correlation:
                rho = max(rho, 0.0)
            v = max(1.0 + (m - 1) * rho, 1e-8) / m + 1.0 / m2
        delta = z[mask].mean() - z[~mask].mean()
        s2 = ((G - 1) * var_all - delta**2 * m * m2 / G) / (G - 2) / spread
        t = delta / np.sqrt(s2 * v)
        effect = np.nanmean(coef[mask]) - np.nanmean(coef[~mask]) if coef is not None else delta
        rows.append(
            (
                name,
                m,
                rho,
                v / independent,
                effect,
                t,
                "Up" if t > 0 else "Down",
                2 * t_sf(abs(t), G - 2),
            )
        )
    out = pd.DataFrame(rows, columns=SET_COLUMNS[:-1])
    out["qval"] = adjust(out["pval"])
    return out.sort_values("pval", kind="stable").reset_index(drop=True)


def permutation_set_test(
    features: pd.DataFrame,
    metadata: pd.DataFrame,
    phenotype: str,
    sets: Mapping[str, Iterable[str]],
    covariates: Iterable[str] = (),
    permutations: int = 999,
    seed: int = 1,
    min_size: int = 3,
) -> pd.DataFrame:
    """Sample-permutation competitive set test (keeps inter-feature correlation; no distributional assumption).

    The phenotype and every feature are residualized on the covariates (Frisch–Waugh–Lovell); the phenotype
    residual ``x`` is permuted across samples ``permutations`` times (``numpy.random.default_rng(seed)``).
    For each permutation all per-feature t statistics are recomputed in one matrix product
    (``b = x'Y / x'x``, ``t = b / sqrt((Y'Y - b^2 x'x) / (df * x'x))``) and the set statistic
    ``mean(t_set) - mean(t_rest)`` is compared with the observed one: ``p = (1 + #|null| >= |obs|) / (B + 1)``.
    ``effect`` is the set-minus-rest mean coefficient. Columns as :func:`camera` (``correlation``/``vif`` NaN).
    """
    covariates = list(covariates)
    design = _design(metadata, phenotype, covariates)
    shared = features.index.intersection(design.index)
    if len(shared) == 0:
        raise InputError("features and metadata share no sample ids; check the sample id column.")
    Z = design.loc[shared].drop(columns=[phenotype]).to_numpy()
    x = design.loc[shared, phenotype].to_numpy()
    Y = features.loc[shared].to_numpy(dtype=float)
    n = len(shared)
    df = n - Z.shape[1] - 1
    if df < 1:
        raise InputError(f"set test: {n} samples for {Z.shape[1] + 1} model terms; add samples.")
    Z_pinv = np.linalg.pinv(Z)  # residualize without forming the n × n hat matrix
    x_r = x - Z @ (Z_pinv @ x)
    Y_r = Y - Z @ (Z_pinv @ Y)
    yy = np.einsum("ij,ij->j", Y_r, Y_r)
    xx = x_r @ x_r
    names = pd.Index(features.columns.astype(str))
    resolved = _resolve_sets(sets, names, min_size)
    if not resolved:
        return pd.DataFrame(columns=SET_COLUMNS)
    M = np.column_stack(list(resolved.values())).astype(float)  # features × sets
    sizes = M.sum(axis=0)
    G = len(names)

    def set_stats(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = xs @ Y_r / xx  # (B, G)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = b / np.sqrt(np.maximum(yy - b**2 * xx, 0.0) / (df * xx))
        t = np.nan_to_num(t)
        total = t.sum(axis=1, keepdims=True)
        in_set = t @ M
        diff = in_set / sizes - (total - in_set) / (G - sizes)
        return diff, b

    observed, b_obs = set_stats(x_r[None, :])
    rng = np.random.default_rng(seed)
    exceed = np.zeros(len(resolved))
    chunk = max(1, min(permutations, 2_000_000 // max(n, 1) // 8))
    done = 0
    while done < permutations:
        size = min(chunk, permutations - done)
        xs = np.stack([x_r[rng.permutation(n)] for _ in range(size)])
        null, _ = set_stats(xs)
        exceed += (np.abs(null) >= np.abs(observed) - 1e-12).sum(axis=0)
        done += size
    pval = (1 + exceed) / (permutations + 1)
    coef = b_obs[0]
    effect = coef @ M / sizes - (coef.sum() - coef @ M) / (G - sizes)
    out = pd.DataFrame(
        {
            "set": list(resolved),
            "n_features": sizes.astype(int),
            "correlation": np.nan,
            "vif": np.nan,
            "effect": effect,
            "statistic": observed[0],
            "direction": np.where(observed[0] > 0, "Up", "Down"),
            "pval": pval,
        }
    )
    out["qval"] = adjust(out["pval"])
    return out.sort_values("pval", kind="stable").reset_index(drop=True)


def camera_by_phenotype(
    features: pd.DataFrame,
    metadata: pd.DataFrame,
    phenotypes: Iterable[str],
    sets: Mapping[str, Iterable[str]],
    covariates: Iterable[str] = (),
    min_size: int = 3,
    variance: str = "full",
) -> pd.DataFrame:
    """:func:`camera` for each phenotype (own OLS fit, residual correlation), stacked with a ``phenotype``
    column and ``N`` (samples used); ``qval`` is BH over all set × phenotype rows of the call.
    ``variance``: see :func:`camera`."""
    parts = []
    for phenotype in phenotypes:
        fit = ols_phenotype_fit(features, metadata, phenotype, covariates)
        res = camera(
            fit.t,
            sets,
            residuals=fit.residuals,
            df=fit.df,
            coefficients=fit.coef,
            min_size=min_size,
            variance=variance,
        )
        res.insert(1, "phenotype", phenotype)
        res["N"] = fit.n
        parts.append(res)
    out = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["set", "phenotype", *SET_COLUMNS[1:]])
    )
    out["qval"] = adjust(out["pval"])
    return out


def meta_set_results(per_cohort: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Combine per-cohort set results (from :func:`camera_by_phenotype`) across cohorts.

    Method (documented choice): each cohort's two-sided set p-value and direction give a signed z,
    ``z_c = sign(statistic_c) * Phi^-1(1 - p_c / 2)``; the cohorts are combined with weighted Stouffer,
    ``Z = sum(w_c z_c) / sqrt(sum(w_c^2))`` with ``w_c = sqrt(N_c)`` (samples used), ``p = 2 (1 - Phi(|Z|))``.
    The pooled ``effect`` is the ``N``-weighted mean of the cohort effects. CAMERA's statistic has no
    coefficient-scale standard error, so inverse-variance pooling of effects is not available; Stouffer keeps
    each cohort's own correlation-adjusted test. ``qval``: BH over all set × phenotype rows.
    Columns: ``set phenotype k effect statistic direction pval qval`` then ``effect_<cohort>`` and
    ``pval_<cohort>``.
    """
    if not per_cohort:
        raise InputError("set meta-analysis: no cohort results given.")
    frames = []
    for cohort, table in per_cohort.items():
        need = {"set", "phenotype", "effect", "statistic", "pval", "N"}
        if not need.issubset(table.columns):
            raise InputError(
                f"set results of cohort '{cohort}' lack column(s) {preview(sorted(need - set(table.columns)))}."
            )
        part = table[["set", "phenotype", "effect", "statistic", "pval", "N"]].copy()
        part["cohort"] = str(cohort)
        frames.append(part)
    long = pd.concat(frames, ignore_index=True)
    p = long["pval"].clip(lower=1e-300, upper=1.0)
    long["z"] = np.sign(long["statistic"]) * normal_isf(p / 2)
    long["w"] = np.sqrt(long["N"].astype(float))
    rows = []
    for (name, phen), g in long.groupby(["set", "phenotype"], sort=False):
        w = g["w"].to_numpy()
        zc = (w * g["z"].to_numpy()).sum() / np.sqrt((w**2).sum())
        row = {
            "set": name,
            "phenotype": phen,
            "k": len(g),
            "effect": np.average(g["effect"], weights=g["N"].astype(float)),
            "statistic": zc,
            "direction": "Up" if zc > 0 else "Down",
            "pval": 2 * normal_sf(abs(zc)),
        }
        for _, r in g.iterrows():
            row[f"effect_{r['cohort']}"] = r["effect"]
            row[f"pval_{r['cohort']}"] = r["pval"]
        rows.append(row)
    out = pd.DataFrame(rows)
    out.insert(out.columns.get_loc("pval") + 1, "qval", adjust(out["pval"]))
    return out.sort_values("pval", kind="stable").reset_index(drop=True)


def set_tests_across_cohorts(
    cohorts: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    phenotypes: Iterable[str],
    sets: Mapping[str, Iterable[str]],
    covariates: Iterable[str] | Mapping[str, Iterable[str]] = (),
    min_size: int = 3,
    variance: str = "full",
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Set tests per cohort and meta-analysed: ``cohorts`` maps a name to ``(features, metadata)``
    (samples × transformed features, metadata indexed by sample); ``covariates``: the same for every cohort,
    or cohort name → that cohort's covariates. Returns ``(per_cohort, meta)``: ``per_cohort`` stacks the
    non-empty :func:`camera_by_phenotype` results (cohorts with no set of ``min_size`` features are left out)
    with a leading ``cohort`` column (``qval`` is BH within each cohort); ``meta`` is :func:`meta_set_results`
    over those cohorts, ``None`` when fewer than two have results."""
    phenotypes = list(phenotypes)
    by_cohort = isinstance(covariates, Mapping)
    shared = [] if by_cohort else list(covariates)
    tables = {}
    for name, (features, metadata) in cohorts.items():
        adjust_for = list(covariates[name]) if by_cohort else shared
        table = camera_by_phenotype(features, metadata, phenotypes, sets, adjust_for, min_size, variance)
        if len(table):
            tables[str(name)] = table
    if not tables:
        return pd.DataFrame(columns=["cohort", "set", "phenotype", *SET_COLUMNS[1:], "N"]), None
    per_cohort = pd.concat([t.assign(cohort=name) for name, t in tables.items()], ignore_index=True)
    per_cohort = per_cohort[["cohort", *[c for c in per_cohort.columns if c != "cohort"]]]
    return per_cohort, meta_set_results(tables) if len(tables) > 1 else None
