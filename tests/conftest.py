"""Shared fixtures: where the golden files are.

Tests that read ``../shared`` (reference outputs of MaAsLin2, metafor, vegan, MMUPHin and template data; see the
README) take the ``shared`` fixture. On a user's clone without ``../shared`` they are skipped with
:data:`SHARED_SKIP`; where ``../shared`` is required (``CI=true`` or ``OSTEOBIOME_REQUIRE_SHARED=1``, as
``.ci/run`` sets) its absence fails them instead, so CI never passes without the parity tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
#: The one skip reason of every test that needs ../shared (.ci/run looks for it in pytest's -rs summary).
SHARED_SKIP = f"needs ../shared (reference outputs and template data) beside the repository; {SHARED} is missing"


def shared_required() -> bool:
    """``../shared`` must be there: on CI (``CI=true``) or when ``OSTEOBIOME_REQUIRE_SHARED=1``."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("OSTEOBIOME_REQUIRE_SHARED") == "1"


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` beside the repository; skipped (or failed where required) when it is missing."""
    if not SHARED.is_dir():
        if shared_required():
            pytest.fail(f"{SHARED_SKIP} (required here: CI=true or OSTEOBIOME_REQUIRE_SHARED=1)", pytrace=False)
        pytest.skip(SHARED_SKIP)
    return SHARED


@pytest.fixture(scope="session")
def hmp2_folder(shared: Path) -> Path:
    """MaAsLin2's HMP2 example and its golden outputs (``../shared/reference/maaslin2_hmp2``)."""
    return shared / "reference" / "maaslin2_hmp2"


@pytest.fixture(scope="session")
def hmp2(hmp2_folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(taxonomy, metadata)`` of MaAsLin2's HMP2 example, samples as rows (read once; do not modify)."""
    taxonomy = pd.read_csv(hmp2_folder / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    metadata = pd.read_csv(hmp2_folder / "HMP2_metadata.tsv", sep="\t", index_col=0)
    return taxonomy, metadata
