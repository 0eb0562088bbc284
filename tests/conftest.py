"""Shared fixtures: where the golden files are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` beside the repository (golden reference outputs and template data)."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the parity tests need ../shared beside the repository")
    return SHARED
