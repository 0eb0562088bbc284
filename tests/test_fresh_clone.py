"""A clone without ../shared: the tests that need it skip with one clear reason; where ../shared is required
(CI=true, or .ci/run) they fail, and .ci/run fails when any test skipped for want of it.

Each case builds a miniature repository in a temporary folder (this suite's conftest.py and .ci/run, a Makefile
whose ``test`` target runs pytest, one test with and one without the ``shared`` fixture) and runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = '''
def test_needs_shared(shared):
    assert (shared / "marker").is_file()


def test_plain():
    assert True
'''


def make_repo(root: Path, with_shared: bool) -> Path:
    repo = root / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / ".ci").mkdir()
    shutil.copy(REPO / "tests" / "conftest.py", repo / "tests" / "conftest.py")
    shutil.copy(REPO / ".ci" / "run", repo / ".ci" / "run")
    (repo / "tests" / "test_mini.py").write_text(TESTS)
    (repo / "Makefile").write_text(f"test:\n\t{sys.executable} -m pytest -q -p no:cacheprovider tests\n")
    if with_shared:
        (root / "shared").mkdir()
        (root / "shared" / "marker").write_text("golden")
    return repo


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "OSTEOBIOME_REQUIRE_SHARED", "PYTEST_ADDOPTS")}
    return env | extra


def pytest_run(repo: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"],
        cwd=repo, env=environment(**env), capture_output=True, text=True, timeout=120,
    )


def ci_run(repo: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", ".ci/run"], cwd=repo, env=environment(**env), capture_output=True, text=True, timeout=120
    )


def test_user_clone_without_shared_skips_with_one_reason(tmp_path):
    done = pytest_run(make_repo(tmp_path, with_shared=False))
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "needs ../shared (reference outputs and template data)" in skipped[0]


@pytest.mark.parametrize("env", [{"CI": "true"}, {"OSTEOBIOME_REQUIRE_SHARED": "1"}])
def test_where_shared_is_required_its_absence_fails(tmp_path, env):
    done = pytest_run(make_repo(tmp_path, with_shared=False), **env)
    assert done.returncode == 1 and "1 passed, 1 error" in done.stdout  # a fixture failure is an error
    assert "needs ../shared" in done.stdout


def test_ci_run_fails_without_shared_and_passes_with_it(tmp_path):
    missing = ci_run(make_repo(tmp_path / "a", with_shared=False))
    assert missing.returncode != 0
    assert "needs ../shared" in missing.stdout
    present = ci_run(make_repo(tmp_path / "b", with_shared=True))
    assert present.returncode == 0, present.stdout + present.stderr
    assert "2 passed" in present.stdout


def test_ci_run_fails_on_a_shared_skip_even_if_the_fixture_only_skips(tmp_path):
    """Belt and braces: a test that skips for want of ../shared on its own (not failing) still fails CI."""
    repo = make_repo(tmp_path, with_shared=True)
    (repo / "tests" / "test_other.py").write_text(
        "import pytest\nfrom conftest import SHARED_SKIP\n\n\ndef test_skips():\n    pytest.skip(SHARED_SKIP)\n"
    )
    done = ci_run(repo)
    assert done.returncode != 0 and "skipped because ../shared is missing" in done.stderr
