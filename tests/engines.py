"""Skip markers for tests that need analysis modules built on other branches (until they are on main)."""

from __future__ import annotations

import importlib.util
import sys

import pytest


def _available(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def requires(*modules: str) -> pytest.MarkDecorator:
    """Skip (with the reason shown) unless every module can be imported."""
    missing = [m for m in modules if not _available(m)]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (not on this branch yet)")
