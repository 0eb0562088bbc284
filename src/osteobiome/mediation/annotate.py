"""Mediators matched to the knowledge table's mechanism groups (SCFA, bile acid, tryptophan/serotonin).

A mediator belongs to a group when its name matches the group's pattern (case-insensitive: ``butyrate``,
``Butyric acid``, ``DCA``, ``taurocholic acid``, ``5-HT``, ``indole-3-propionate`` …). The group ties to the
knowledge table (:mod:`osteobiome.mechanisms.knowledge`) through genus traits (``butyrate producer`` …) and a
pathway mechanism group (``SCFA fermentation``, ``tryptophan metabolism``); a pair's exposure genus is annotated
with its traits in the mediator's group and their references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from osteobiome.mechanisms.knowledge import annotate


@dataclass(frozen=True)
class MechanismGroup:
    """A mediator class: name pattern, the knowledge table's genus traits and pathway group for it."""

    name: str
    pattern: re.Pattern[str]
    genus_traits: tuple[str, ...]
    pathway_group: str | None


GROUPS = (  # first match wins: indole-3-propionate is a tryptophan metabolite, not an SCFA
    MechanismGroup(
        "tryptophan/serotonin",
        re.compile(
            r"tryptophan|serotonin|5-?ht\b|5-?hiaa|hydroxytrypt|hydroxyindol|indol|kynuren|skatol|tryptamine",
            re.IGNORECASE,
        ),
        ("serotonin (5-HT) modulating",),
        "tryptophan metabolism",
    ),
    MechanismGroup(
        "bile acid",
        re.compile(r"chol(ic|ate|anoic)|bile|^[tg]?(u?dca|cdca|lca|ca)$", re.IGNORECASE),
        ("bile-acid transformer",),
        None,
    ),
    MechanismGroup(
        "SCFA",
        re.compile(
            r"acet(ate|ic)|propion(ate|ic)|butyr(ate|ic)|valer(ate|ic)|capro(ate|ic)|hexano(ate|ic)|"
            r"\bscfa\b|short[- ]chain fatty",
            re.IGNORECASE,
        ),
        ("acetate producer", "propionate producer", "butyrate producer"),
        "SCFA fermentation",
    ),
)
ANNOTATION_COLUMNS = ["mechanism", "knowledge", "reference"]


def mechanism_of(mediator: str) -> str:
    """Name of the first group whose pattern matches ``mediator`` (tryptophan/serotonin, then bile acid, then SCFA), or ``''``."""
    return next((group.name for group in GROUPS if group.pattern.search(str(mediator))), "")


def annotate_pairs(features: Iterable[str], mediators: Iterable[str]) -> pd.DataFrame:
    """``mechanism`` (group or ``''``), ``knowledge`` (the genus's traits in that group, ``; ``-joined) and
    ``reference`` (their references) for each (feature, mediator) pair, in order."""
    features, mediators = list(map(str, features)), list(map(str, mediators))
    known = annotate(sorted(set(features)), "genus")
    by_feature = {name: rows for name, rows in known.groupby("feature")}
    groups = {group.name: group for group in GROUPS}
    mechanism = {m: mechanism_of(m) for m in set(mediators)}
    rows = []
    for feature, mediator in zip(features, mediators, strict=True):
        group = groups.get(mechanism[mediator])
        hits = by_feature.get(feature)
        if group is None or hits is None:
            rows.append((mechanism[mediator], "", ""))
            continue
        hits = hits[hits["trait"].isin(group.genus_traits)]
        rows.append((group.name, "; ".join(hits["trait"]), "; ".join(dict.fromkeys(hits["reference"]))))
    return pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)
