"""The report's figures drawn by worker processes are the same figures, files and inline images as drawn here."""

from __future__ import annotations

import re

from report_data import synthetic_results

from osteobiome.report import figures, render

IMAGE = re.compile(r'<img [^>]*src="([^"]+)"')


def test_figures_drawn_in_workers_equal_those_drawn_here(tmp_path):
    results = synthetic_results(with_mechanisms=True)
    here = render(results, tmp_path / "here").read_text()
    workers = render(results, tmp_path / "workers", workers=2).read_text()
    assert "osteobiome-figure-" not in workers  # every placeholder replaced
    images = IMAGE.findall(here)
    assert len(images) == 6 and all(src.startswith("data:image/svg+xml;base64,") for src in images)
    assert IMAGE.findall(workers) == images
    files = sorted(p.name for p in (tmp_path / "here" / "figures").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "workers" / "figures").iterdir())
    assert {f.rsplit(".", 1)[1] for f in files} == {"svg", "png"}
    for name in files:
        assert (tmp_path / "here" / "figures" / name).read_bytes() == (tmp_path / "workers" / "figures" / name).read_bytes()
    assert figures.DEFERRED == []  # the pool is no longer used once the report is written
