"""Synthetic study results (tidy frames in the contracts' columns) to test the report without running a study."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from osteobiome.report.results import CohortResults, StudyResults

#: The genera of the model study's findings (all are in the simulator's Twins parameters).
MODEL_GENERA = [
    "Akkermansia",
    "DTU089",
    "Lachnospiraceae NK4A136 group",
    "Faecalibacterium",
    "Methanobrevibacter",
    "Blautia",
    "Marvinbryantia",
    "Turicibacter",
    "Victivallis",
]
GENERA = [
    *MODEL_GENERA,
    "Bacteroides",
    "Prevotella",
    "Roseburia",
    "[Eubacterium] coprostanoligenes group",
    "Lachnospiraceae (unclassified genus)",
    "Alistipes",
    "Dorea",
]
PHENOTYPES = ["radius_Tt_vBMD", "tibia_Ct_vBMD", "femoral_neck_aBMD"]


def _bh(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    out = np.empty_like(q)
    out[order] = q
    return out


def associations(rng: np.random.Generator, n: int, features=GENERA, phenotypes=PHENOTYPES) -> pd.DataFrame:
    rows = []
    for phenotype in phenotypes:
        coef = rng.normal(0, 0.05, len(features))
        coef[: min(3, len(features))] += [-0.3, -0.25, 0.28][: len(features)]
        se = np.full(len(features), 0.06)
        p = 2 * stats.norm.sf(np.abs(coef / se))
        for f, c, s, pv, q in zip(features, coef, se, p, _bh(p), strict=True):
            rows.append(
                {
                    "feature": f,
                    "metadata": phenotype,
                    "value": phenotype,
                    "coef": c,
                    "stderr": s,
                    "N": n,
                    "N.not.0": n // 2,
                    "pval": pv,
                    "qval": q,
                    "N.used": n - 3,
                }
            )
    return pd.DataFrame(rows)


def meta_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    merged = None
    for name, t in tables.items():
        part = t[["feature", "metadata", "coef", "stderr"]].rename(
            columns={"coef": f"c_{name}", "stderr": f"s_{name}"}
        )
        merged = part if merged is None else merged.merge(part, on=["feature", "metadata"])
    names = list(tables)
    c = merged[[f"c_{n}" for n in names]].to_numpy()
    w = 1 / merged[[f"s_{n}" for n in names]].to_numpy() ** 2
    coef = (c * w).sum(1) / w.sum(1)
    se = 1 / np.sqrt(w.sum(1))
    p = 2 * stats.norm.sf(np.abs(coef / se))
    out = pd.DataFrame(
        {
            "feature": merged["feature"],
            "exposure": merged["metadata"],
            "coef": coef,
            "stderr": se,
            "pval": p,
            "k": len(names),
            "tau2": 0.0,
            "stderr.tau2": 0.01,
            "pval.tau2": 0.5,
            "I2": 0.0,
            "H2": 1.0,
        }
    )
    for i, n in enumerate(names):
        out[f"weight_{n}"] = 100 * w[:, i] / w.sum(1)
    out["pval.bonf"] = (p * len(p)).clip(max=1)
    out["qval.fdr"] = out.groupby("exposure")["pval"].transform(lambda s: _bh(s.to_numpy()))
    out["ci.lb"], out["ci.ub"] = coef - 1.96 * se, coef + 1.96 * se
    return out


def synthetic_results(
    seed: int = 0, with_mechanisms: bool = False, warnings: tuple[str, ...] = ()
) -> StudyResults:
    rng = np.random.default_rng(seed)
    cohorts = []
    for name, n in (("FHS", 300), ("MrOS", 200)):
        samples = [f"{name}_{i}" for i in range(n)]
        metadata = pd.DataFrame({p: rng.normal(300, 40, n) for p in PHENOTYPES}, index=samples)
        coords = pd.DataFrame(rng.normal(size=(n, 3)), index=samples, columns=["PC1", "PC2", "PC3"])
        explained = pd.Series([0.18, 0.09, 0.05], index=coords.columns)
        alpha_assoc = associations(rng, n, features=["shannon", "observed"])
        permanova = pd.concat(
            [
                pd.DataFrame(
                    {
                        "phenotype": p,
                        "term": ["age", p, "Residual", "Total"],
                        "Df": [1, 1, n - 3, n - 1],
                        "SumOfSqs": [1.0, 0.5, 60.0, 61.5],
                        "R2": [0.016, 0.008, 0.976, 1.0],
                        "F": [5.0, 2.5, np.nan, np.nan],
                        "pval": [0.001, 0.03, np.nan, np.nan],
                    }
                )
                for p in PHENOTYPES
            ],
            ignore_index=True,
        )
        cohorts.append(
            CohortResults(
                name=name,
                summary={
                    "n": n,
                    "age": "55.1 ± 9.8",
                    "female": "54%",
                    "depth": "21,400 (15,200–30,100)",
                    "genera": 16,
                },
                associations=associations(rng, n),
                metadata=metadata,
                covariates=["age", "sex"],
                alpha_associations=alpha_assoc,
                permanova={"braycurtis": permanova},
                pcoa={"braycurtis": (coords, explained)},
            )
        )
    meta = meta_table({c.name: c.associations for c in cohorts})
    mechanisms = {}
    if with_mechanisms:
        mechanisms["sets"] = pd.DataFrame(
            {
                "set": ["butyrate producer", "mucin degrader"] * 3,
                "phenotype": np.repeat(PHENOTYPES, 2),
                "effect": rng.normal(0, 0.1, 6),
                "pval": rng.uniform(0, 1, 6),
                "qval": rng.uniform(0, 1, 6),
            }
        )
    return StudyResults(
        title="Synthetic <study> & test",
        phenotypes=PHENOTYPES,
        covariates=["age", "sex"],
        cohorts=cohorts,
        meta=meta,
        mechanisms=mechanisms,
        settings={
            "rank": "genus",
            "preset": "default",
            "association": {
                "normalization": "TSS",
                "transform": "LOG",
                "analysis_method": "LM",
                "min_prevalence": 0.1,
                "standardize": True,
                "correction": "BH",
                "fdr_scope": "per-variable",
            },
            "covariates_by_cohort": {"FHS": ["age", "sex"], "MrOS": ["age"]},
            "meta": {"method": "REML", "test": "z"},
            "diversity": {
                "alpha": ["shannon", "observed"],
                "beta": ["braycurtis"],
                "permutations": 999,
                "seed": 1,
            },
        },
        warnings=list(warnings),
        versions={"osteobiome": "0.1.0", "python": "3.11", "numpy": np.__version__},
        timings={"total": 1.5},
    )
