"""Taxonomic lineages: parse them into a features × ranks frame, and label features at any rank.

Accepted lineage styles (one string per feature):

- SILVA 138+ and GTDB: ``d__Bacteria; p__Firmicutes; c__Clostridia; o__Lachnospirales; f__Lachnospiraceae; g__Blautia``
- older SILVA (QIIME 2 ≤ 2019): ``D_0__Bacteria;D_1__Firmicutes;…;D_5__Blautia``
- Greengenes: ``k__Bacteria; p__Firmicutes; …; g__; s__`` (empty ranks allowed)
- MetaPhlAn clades: ``k__Bacteria|p__Firmicutes|…|s__Blautia_obeum`` (strain level ``t__`` ignored)
- plain lineages: ``Bacteria;Firmicutes;Clostridia;…`` (ranks by position, Kingdom first)

Names are kept exactly as written (``Lachnospiraceae NK4A136 group``, ``[Eubacterium] coprostanoligenes
group``, ``DTU089``); placeholders such as ``uncultured`` or ``g__`` count as unassigned. Features not
assigned at a rank get a readable label from their deepest assigned rank, e.g. ``Lachnospiraceae
(unclassified genus)``, so unassigned features of different families are never merged.

:func:`make_names` reproduces R's ``make.names`` (used only to compare with MaAsLin2 outputs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, suggest
from osteobiome.io.cohort import RANKS

#: Rank prefixes: Greengenes/SILVA/GTDB/MetaPhlAn letters (``d`` domain = Kingdom).
PREFIX_RANK = {"k": 0, "d": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6}
_LETTER_PREFIX = re.compile(r"^([kdpcofgst])__(.*)$", re.IGNORECASE)
_LEVEL_PREFIX = re.compile(r"^D_(\d+)__(.*)$")
#: Values that mean "not assigned" (compared case-insensitively, with ``_`` read as a space).
UNASSIGNED = frozenset(
    {
        "",
        "na",
        "nan",
        "none",
        "unassigned",
        "unclassified",
        "unknown",
        "unidentified",
        "uncultured",
        "uncultured bacterium",
        "uncultured organism",
        "uncultured prokaryote",
        "metagenome",
        "gut metagenome",
        "human gut metagenome",
        "mouse gut metagenome",
        "ambiguous taxa",
    }
)


def is_unassigned(name: object) -> bool:
    """Whether a rank value is a placeholder (empty, NA, ``uncultured``, ``metagenome``, …)."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return True
    return str(name).strip().replace("_", " ").lower() in UNASSIGNED


def parse_lineage(lineage: object) -> list[str | None]:
    """One lineage string → a list of 7 rank values (Kingdom…Species), ``None`` where unassigned."""
    ranks: list[str | None] = [None] * len(RANKS)
    if lineage is None or (isinstance(lineage, float) and np.isnan(lineage)):
        return ranks
    text = str(lineage).strip()
    parts = [p.strip() for p in re.split(r"[;|]", text)] if text else []
    prefixed = False
    for position, part in enumerate(parts):
        match = _LETTER_PREFIX.match(part)
        level = _LEVEL_PREFIX.match(part)
        if match:
            prefixed = True
            letter, value = match.group(1).lower(), match.group(2)
            if letter == "t":  # MetaPhlAn strain: below Species
                continue
            index = PREFIX_RANK[letter]
        elif level:
            prefixed = True
            index, value = int(level.group(1)), level.group(2)
            if index >= len(RANKS):
                continue
        elif prefixed and not part:
            continue
        else:
            index, value = position, part
            if index >= len(RANKS):
                continue
        value = value.strip()
        ranks[index] = None if is_unassigned(value) else value
    ranks[-1] = binomial(ranks[-2], ranks[-1])
    return ranks


def binomial(genus: str | None, species: str | None) -> str | None:
    """A species name that reads on its own: a bare epithet (Greengenes ``s__prausnitzii``, DADA2
    ``assignSpecies``) is prefixed with its genus, ``Faecalibacterium prausnitzii``; full names are kept."""
    if species is None or genus is None or is_unassigned(species):
        return None if species is None or is_unassigned(species) else species
    bare_epithet = species[:1].islower() and not re.search(r"[\s_]", species)
    return f"{genus} {species}" if bare_epithet else species


def parse_lineages(lineages: pd.Series) -> pd.DataFrame:
    """A Series of lineage strings indexed by feature → features × :data:`RANKS` frame (``None`` = unassigned).

    Columns deeper than the deepest rank any feature reaches are left out.
    """
    codes, unique = pd.factorize(lineages.to_numpy(dtype=object), use_na_sentinel=False)
    parsed = [parse_lineage(v) for v in unique]  # each distinct lineage once
    rows = [parsed[c] for c in codes]
    frame = pd.DataFrame(rows, index=pd.Index(lineages.index.astype(str), name="feature"), columns=list(RANKS), dtype=object)
    return trim_ranks(frame)


def trim_ranks(taxonomy: pd.DataFrame) -> pd.DataFrame:
    """Drop trailing rank columns that no feature has assigned (e.g. Species for a genus-level classifier)."""
    present = [r for r in RANKS if r in taxonomy.columns]
    assigned = [r for r in present if taxonomy[r].map(lambda v: not is_unassigned(v)).any()]
    if not assigned:
        return taxonomy[present[:1]]
    last = present.index(assigned[-1])
    return taxonomy[present[: last + 1]].astype(object).where(taxonomy[present[: last + 1]].notna(), None)


def check_rank(rank: str, available: Iterable[str] = RANKS) -> str:
    """Canonical rank name for ``rank`` (case-insensitive), or an :class:`InputError` with suggestions."""
    available = list(available)
    for r in available:
        if r.lower() == str(rank).lower():
            return r
    raise InputError(f"rank {rank!r} is not available; use one of {available}{suggest(rank, available)}.")


def rank_labels(taxonomy: pd.DataFrame, rank: str) -> pd.Series:
    """The label of every feature at ``rank``.

    Assigned features keep their name unchanged. Unassigned ones are named after their deepest assigned
    rank above, ``<name> (unclassified <rank>)``, or ``Unassigned`` when nothing is assigned. A name that
    occurs under different parents (e.g. the same genus name in two families) gets its parent appended,
    ``Clostridium (Peptostreptococcaceae)``, so features of different families are never merged.
    """
    rank = check_rank(rank, [r for r in RANKS if r in taxonomy.columns])
    upto = [r for r in RANKS if r in taxonomy.columns][: RANKS.index(rank) + 1]
    values = taxonomy[upto].to_numpy(dtype=object)
    labels: list[str] = []
    parents: list[tuple] = []
    for row in values:
        clean = [None if is_unassigned(v) else str(v) for v in row]
        parents.append(tuple(clean[:-1]))
        if clean[-1] is not None:
            labels.append(clean[-1])
            continue
        deepest = next((i for i in range(len(clean) - 1, -1, -1) if clean[i] is not None), None)
        labels.append("Unassigned" if deepest is None else f"{clean[deepest]} (unclassified {rank.lower()})")
    label_series = pd.Series(labels, index=taxonomy.index, dtype=object)
    parent_series = pd.Series(parents, index=taxonomy.index, dtype=object)
    clash = parent_series.groupby(label_series).nunique() > 1
    for label in clash.index[clash.to_numpy()]:
        members = label_series == label
        for idx in label_series.index[members.to_numpy()]:
            above = next((p for p in reversed(parent_series[idx]) if p is not None), None)
            label_series[idx] = f"{label} ({above})" if above is not None else label
    return label_series.rename(rank)


_R_RESERVED = frozenset(
    "if else repeat while function for next break TRUE FALSE NULL Inf NaN NA NA_integer_ NA_real_ "
    "NA_character_ NA_complex_ in".split()
)


def make_names(names: str | Iterable[str]) -> str | list[str]:
    """R's ``make.names(x)`` (``unique = FALSE``): syntactically valid R names, for comparing with MaAsLin2.

    Rules (R documentation of ``make.names``): ``X`` is prepended when the name does not start with a letter
    or with a dot not followed by a digit; every character other than letters, digits, ``.`` and ``_``
    becomes ``.``; reserved words get a ``.`` appended. ``"[Eubacterium] coprostanoligenes group"`` →
    ``"X.Eubacterium..coprostanoligenes.group"``.
    """
    if isinstance(names, str):
        return _make_name(names)
    return [_make_name(n) for n in names]


def _make_name(name: object) -> str:
    if name is None or (isinstance(name, float) and np.isnan(name)):
        name = "NA"
    s = str(name)
    if not s or not (s[0].isalpha() or s[0] == ".") or (s[0] == "." and len(s) > 1 and s[1].isdigit()):
        s = "X" + s
    s = "".join(c if (c.isalnum() or c in "._") else "." for c in s)
    return s + "." if s in _R_RESERVED else s
