"""A small two-cohort study written to disk (TSV features as rows, metadata with sample ids) for study tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

GENERA = [
    "Faecalibacterium",
    "Akkermansia",
    "Roseburia",
    "Agathobacter",
    "Anaerostipes",
    "Coprococcus",
    "Butyricicoccus",
    "Subdoligranulum",
    "Bacteroides",
    "Phocaeicola",
    "Prevotella",
    "Parabacteroides",
    "Alistipes",
    "Blautia",
    "Bifidobacterium",
    "Lactobacillus",
    "Streptococcus",
    "Ruminococcus",
    "Ruminococcus gnavus group",
    "Eggerthella",
    "Bilophila",
    "Methanobrevibacter",
    "Escherichia-Shigella",
    "Dialister",
    "Veillonella",
    "Victivallis",
    "Lachnospiraceae NK4A136 group",
    "DTU089",
    "Marvinbryantia",
    "Turicibacter",
]


PATHWAYS = [
    "CENTFERM-PWY",
    "PWY-5676",
    "P162-PWY",
    "PWY-5677",
    "GLUDEG-II-PWY",
    "PWY-5022",
    "PWY-6590",
    "P108-PWY",
    "PWY-5088",
    "PROPFERM-PWY",
    "PWY-7013",
    "HISTSYN-PWY",
    "ARGSYN-PWY",
    "THRESYN-PWY",
    "PRPP-PWY",
    "PWY-7219",
]


def write_pathways(folder: Path, meta: pd.DataFrame, rng: np.random.Generator) -> None:
    """A PICRUSt2 ``path_abun_unstrat.tsv`` (pathways as rows, fractional abundances) for ``meta``'s samples."""
    z = ((meta["vbmd"] - 300) / 40).to_numpy()[:, None]
    effect = np.zeros(len(PATHWAYS))
    effect[:2] = [0.5, -0.5]
    values = (
        rng.lognormal(6, 1, len(PATHWAYS))
        * rng.lognormal(0, 0.3, (len(meta), len(PATHWAYS)))
        * np.exp(effect * z)
    )
    table = pd.DataFrame(
        values.T.round(3) + 0.001, index=pd.Index(PATHWAYS, name="pathway"), columns=meta.index
    )
    table.to_csv(folder / "path_abun_unstrat.tsv", sep="\t")


HUMANN_PATHWAYS = {
    "PWY-5676: acetyl-CoA fermentation to butanoate II": (
        0.6,
        [
            "Faecalibacterium.s__Faecalibacterium_prausnitzii",
            "Roseburia.s__Roseburia_intestinalis",
            "Roseburia.s__Roseburia_hominis",
        ],
    ),
    "CENTFERM-PWY: pyruvate fermentation to butanoate": (
        -0.5,
        ["Anaerostipes.s__Anaerostipes_hadrus", "Coprococcus.s__Coprococcus_comes"],
    ),
    "PRPP-PWY: superpathway of histidine, purine, and pyrimidine biosynthesis": (
        0.0,
        ["Bacteroides.s__Bacteroides_vulgatus", "Escherichia.s__Escherichia_coli"],
    ),
    "HISTSYN-PWY: L-histidine biosynthesis": (0.0, ["Bacteroides.s__Bacteroides_uniformis"]),
    "P108-PWY: pyruvate fermentation to propanoate I": (
        0.0,
        ["Veillonella.s__Veillonella_parvula", "Dialister.s__Dialister_invisus"],
    ),
    "PWY-7219: adenosine ribonucleotides de novo biosynthesis": (0.0, ["Blautia.s__Blautia_obeum"]),
}


def write_humann(folder: Path, meta: pd.DataFrame, rng: np.random.Generator) -> None:
    """A joined HUMAnN ``pathabundance.tsv``: per pathway the stratified rows (``|g__Genus.s__species``, some zero,
    plus ``|unclassified``) and the community row (their sum); UNMAPPED and UNINTEGRATED rows first.

    PWY-5676 rises and CENTFERM-PWY falls with vBMD (all strata scaled alike)."""
    z = ((meta["vbmd"] - 300) / 40).to_numpy()
    rows = {
        "UNMAPPED": rng.lognormal(9, 0.2, len(meta)),
        "UNINTEGRATED": rng.lognormal(10, 0.2, len(meta)),
    }
    for name, (effect, species) in HUMANN_PATHWAYS.items():
        scale = np.exp(effect * z) * rng.lognormal(0, 0.3, len(meta))
        strata = {
            f"{name}|g__{s}": rng.lognormal(5, 0.5) * scale * (rng.uniform(size=len(meta)) > 0.2)
            for s in species
        }
        strata[f"{name}|unclassified"] = rng.lognormal(3, 0.5) * scale
        rows[name] = sum(strata.values())
        rows.update(strata)
    table = pd.DataFrame(rows, index=[f"{s}_Abundance" for s in meta.index]).T.round(3)
    table.index.name = "# Pathway"
    table.to_csv(folder / "pathabundance.tsv", sep="\t")


def write_cohort(
    folder: Path, prefix: str, n: int, rng: np.random.Generator, both_sexes: bool, humann: bool = False
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    samples = [f"{prefix}{i:03d}" for i in range(n)]
    meta = pd.DataFrame(
        {
            "age": rng.normal(65, 9, n).round(1),
            "sex": rng.choice(["F", "M"], n) if both_sexes else ["M"] * n,
            "bmi": rng.normal(27, 4, n).round(1),
            "vbmd": rng.normal(300, 40, n).round(1),
            "ct_vbmd": rng.normal(850, 50, n).round(1),
        },
        index=pd.Index(samples, name="sample_id"),
    )
    base = rng.lognormal(3, 1.4, len(GENERA))
    z = ((meta["vbmd"] - 300) / 40).to_numpy()[:, None]
    effect = np.zeros(len(GENERA))
    effect[:3] = [0.8, -0.8, 0.6]
    mean = base * rng.lognormal(0, 0.4, (n, 1)) * np.exp(effect * z)
    counts = rng.poisson(mean * (rng.uniform(size=mean.shape) > 0.15))
    counts[:, 0] += 1
    table = pd.DataFrame(counts.T, index=pd.Index(GENERA, name="feature"), columns=samples)
    table.to_csv(folder / "features.tsv", sep="\t")
    meta.to_csv(folder / "metadata.tsv", sep="\t")
    write_pathways(folder, meta, rng)
    if humann:
        write_humann(folder, meta, rng)


def write_study(
    folder: Path,
    n: tuple[int, int] = (80, 60),
    seed: int = 1,
    pathways: bool | str = False,
    **overrides: object,
) -> Path:
    """Two cohorts (A with both sexes, B men only) and ``folder/study.yaml``; ``pathways`` adds each cohort's
    PICRUSt2 table to the study (``"humann"``: its HUMAnN table); ``overrides`` replace top-level keys."""
    rng = np.random.default_rng(seed)
    humann = pathways == "humann"
    write_cohort(folder / "a", "A", n[0], rng, both_sexes=True, humann=humann)
    write_cohort(folder / "b", "B", n[1], rng, both_sexes=False, humann=humann)
    study = {
        "study": "Small test study",
        "cohorts": [
            {
                "name": "A",
                "features": "a/features.tsv",
                "metadata": "a/metadata.tsv",
                "samples_as": "columns",
            },
            {
                "name": "B",
                "features": "b/features.tsv",
                "metadata": "b/metadata.tsv",
                "samples_as": "columns",
            },
        ],
        "rank": None,
        "phenotypes": ["vbmd", "ct_vbmd"],
        "covariates": ["age", "sex", "bmi"],
        "reference": {"sex": "F"},
        "fdr": {"cohort": 0.1, "meta": 0.25},
        "diversity": {
            "alpha": ["shannon", "observed"],
            "beta": ["braycurtis"],
            "permutations": 99,
            "seed": 1,
        },
    }
    if pathways:
        for entry, sub in zip(study["cohorts"], ("a", "b"), strict=True):
            entry["pathways"] = f"{sub}/{'pathabundance.tsv' if humann else 'path_abun_unstrat.tsv'}"
    study.update(overrides)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def readme_gaps(out: Path) -> list[str]:
    """Files of a results folder, and columns of its TSVs, that its README.md does not describe."""
    from osteobiome.study._readme import describe_column, describe_file, is_matrix

    readme = (out / "README.md").read_text()
    gaps = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        relative = path.relative_to(out).as_posix()
        if relative.startswith("inputs/"):
            continue
        if f"`{relative}`" not in readme or describe_file(relative) is None:
            gaps.append(relative)
        if relative.endswith(".tsv") and not is_matrix(relative):
            header = path.read_text().splitlines()[0].split("\t")
            gaps += [f"{relative}: {c}" for c in header if c and describe_column(c) is None]
    return gaps
