"""The demo study's report opened in headless Chromium, as a reader would: no script errors, every figure
drawn, table search and sort working, figures enlarge, readable at 800 px, offline.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package (test extra), which drives
that browser; where either is missing the tests skip with the reason. Screenshots at 1,400 and 800 px are kept
in ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from osteobiome.cli import main

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = os.environ.get("OSTEOBIOME_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("headless Chromium not found: install Debian's chromium package (.ci/run does) for the browser tests")
    return found


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "demo"
    try:
        main(["demo", "--out", str(out), "--workers", "1", "--quiet"])  # the demo as users run it
    except SystemExit as exc:
        assert exc.code in (0, None)
    return out / "report.html"


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) drives the browser tests")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, report: Path, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: problems.append(f"network request: {r.url}")
        if not r.url.startswith(("file:", "data:", "about:"))
        else None,
    )
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    return page, problems


def test_report_renders_without_errors_and_every_figure_has_size(browser, demo_report):
    page, problems = _open(browser, demo_report, 1400)
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('figure img')).map(i => "
        "[i.closest('figure').id, i.naturalWidth, i.getBoundingClientRect().width, i.getBoundingClientRect().height])"
    )
    ids = [s[0] for s in sizes]
    for expected in ("fig-heatmap", "fig-volcano", "fig-forest", "fig-added-variable", "fig-power", "fig-alpha-scatter"):
        assert expected in ids, f"{expected} missing from the report"
    assert all(natural > 0 and w > 0 and h > 0 for _, natural, w, h in sizes), sizes
    assert page.locator("#planted").is_visible()
    external = page.evaluate("Array.from(document.querySelectorAll('a[href^=\"http\"]')).map(a => a.href)")
    assert all(url.startswith(("https://doi.org/", "https://pubmed.ncbi.nlm.nih.gov/")) for url in external), external
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-1400.png"), full_page=True)
    page.close()
    assert problems == []


def test_table_search_and_sort_work(browser, demo_report):
    page, problems = _open(browser, demo_report, 1400)
    table = page.locator("#meta-table")
    rows = page.evaluate("Array.from(document.querySelectorAll('#meta-table tbody tr')).map(r => r.textContent)")
    word = table.locator("tbody tr td:first-child").first.inner_text().split()[0]
    page.fill("input[data-table='meta-table']", word)
    visible = page.evaluate(
        "Array.from(document.querySelectorAll('#meta-table tbody tr')).filter(r => !r.hidden).map(r => r.textContent)"
    )
    assert visible == [r for r in rows if word.lower() in r.lower()] and 0 < len(visible) < len(rows)
    assert page.inner_text("#meta-table-count") == f"{len(visible)} rows shown"
    page.fill("input[data-table='meta-table']", "")
    headers = table.locator("thead th").all_inner_texts()
    column = headers.index("pval")
    header = table.locator("thead th").nth(column)

    def values() -> list[float]:
        cells = page.evaluate(
            f"Array.from(document.querySelectorAll('#meta-table tbody tr')).map(r => r.cells[{column}].getAttribute('data-v'))"
        )
        return [float(v) for v in cells if v]

    header.click()
    ascending = values()
    assert ascending == sorted(ascending) and header.get_attribute("data-dir") == "asc"
    header.click()
    descending = values()
    assert descending == sorted(descending, reverse=True) and header.get_attribute("data-dir") == "desc"
    page.close()
    assert problems == []


def test_figure_enlarges_on_click_and_closes_with_escape(browser, demo_report):
    page, problems = _open(browser, demo_report, 1400)
    assert page.locator("#lightbox").is_hidden()
    page.locator("#fig-volcano img").click()
    assert page.locator("#lightbox").is_visible()
    src = page.evaluate("document.querySelector('#lightbox img').src")
    assert src == page.evaluate("document.querySelector('#fig-volcano img').src")
    page.keyboard.press("Escape")
    assert page.locator("#lightbox").is_hidden()
    page.close()
    assert problems == []


def test_layout_stays_readable_at_800_px(browser, demo_report):
    page, problems = _open(browser, demo_report, 800)
    # the page itself never scrolls sideways: wide figures and tables scroll inside their own boxes
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    assert page.locator("nav").is_visible()
    font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('p.lead')).fontSize)")
    assert font >= 13
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-800.png"), full_page=True)
    page.close()
    assert problems == []


def test_demo_report_is_small_enough_to_mail(demo_report):
    assert demo_report.stat().st_size < 3_000_000
