"""Benchmark of the report's figures: CPU time (``time.process_time``) to build and save each figure of the demo
study, this checkout's ``report/figures.py`` against a baseline revision of it, in the same process.

The demo study is run once, serially, with every figure function of :mod:`osteobiome.report.figures` wrapped so
that its arguments are recorded (cached in ``out_dir/calls.pkl``). Then each figure is built and saved
(``save``: SVG + PNG) ``repeats`` times by the current module and by the baseline module (the same file at git
revision ``baseline``, loaded from ``git show``), interleaved (current, baseline, …) so a change of load hits
both alike. Prints the machine and its load, each figure's median CPU seconds (and range) for both, their ratio,
and the totals. With ``--dump`` the last PNGs of each side are kept in ``out_dir/current`` and
``out_dir/baseline`` for a visual comparison, and how their pixels differ is printed.

Usage: ``python benchmarks/bench_figures.py [--repeats 3] [--baseline REV] [--out DIR] [--dump]``.
"""

from __future__ import annotations

import argparse
import functools
import pickle
import shutil
import statistics
import subprocess
import tempfile
import time
import types
import warnings
from pathlib import Path

from _timing import load, machine

from osteobiome.report import figures

FIGURE_FUNCTIONS = (
    "heatmap", "forest", "volcano", "pcoa_panels", "pcoa_joint", "alpha_effects", "set_dotplot",
    "alpha_scatter", "added_variable", "power_curves",
)


def capture(out: Path) -> list[tuple[str, str, tuple, dict]]:
    """(saved name, figure function, args, kwargs) of every figure the demo study saves (cached in ``out``)."""
    cache = out / "calls.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from osteobiome.study import load_study, run_study
    from osteobiome.study.demo import write_demo_inputs

    made: dict[int, tuple[str, tuple, dict]] = {}
    calls: list[tuple[str, str, tuple, dict]] = []
    originals = {name: getattr(figures, name) for name in (*FIGURE_FUNCTIONS, "save")}

    def recording(name: str):
        @functools.wraps(originals[name])
        def wrapper(*args, **kwargs):
            fig = originals[name](*args, **kwargs)
            made[id(fig)] = (name, args, kwargs)
            return fig

        return wrapper

    def save(fig, folder, name):
        calls.append((name, *made.pop(id(fig))))
        return originals["save"](fig, folder, name)

    try:
        for name in FIGURE_FUNCTIONS:
            setattr(figures, name, recording(name))
        figures.save = save
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = write_demo_inputs(out / "inputs")
            run_study(load_study(study), out / "results", workers=1, quiet=True)
    finally:
        for name, fn in originals.items():
            setattr(figures, name, fn)
    cache.write_bytes(pickle.dumps(calls))
    return calls


def baseline_module(revision: str) -> types.ModuleType:
    """``osteobiome/report/figures.py`` as it was at git ``revision``, as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{revision}:src/osteobiome/report/figures.py"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent,
    ).stdout
    module = types.ModuleType("figures_baseline")
    module.__file__ = f"<figures.py at {revision}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def cpu_seconds(module: types.ModuleType, call: tuple[str, str, tuple, dict], folder: Path) -> float:
    """CPU seconds of building one figure with ``module`` and saving it (SVG + PNG) into ``folder``."""
    name, function, args, kwargs = call
    start = time.process_time()
    module.save(getattr(module, function)(*args, **kwargs), folder, name)
    return time.process_time() - start


def main(repeats: int, revision: str, out: Path, dump: bool) -> None:
    print(machine(), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    calls = capture(out)
    sides = {"current": figures, "baseline": baseline_module(revision)}
    times: dict[str, dict[str, list[float]]] = {side: {c[0]: [] for c in calls} for side in sides}
    scratch = Path(tempfile.mkdtemp(prefix="bench_figures_"))
    for _ in range(repeats):
        for call in calls:
            for side, module in sides.items():
                times[side][call[0]].append(cpu_seconds(module, call, scratch / side))
    print(f"{'figure':<24} {'current s':>10} {'baseline s':>11} {'ratio':>6}   (median CPU of {repeats}; range)")
    totals = dict.fromkeys(sides, 0.0)
    for call in calls:
        name = call[0]
        now, before = (statistics.median(times[side][name]) for side in sides)
        totals["current"] += now
        totals["baseline"] += before
        ranges = "; ".join(f"{min(times[s][name]):.2f}–{max(times[s][name]):.2f}" for s in sides)
        print(f"{name:<24} {now:>10.2f} {before:>11.2f} {before / now:>5.2f}x   ({ranges})")
    print(
        f"{'total':<24} {totals['current']:>10.2f} {totals['baseline']:>11.2f} "
        f"{totals['baseline'] / totals['current']:>5.2f}x   baseline = {revision}; {load()}"
    )
    if dump:
        for side in sides:
            shutil.copytree(scratch / side, out / side, dirs_exist_ok=True)
        print(f"figures kept in {out}/current and {out}/baseline")
        for call in calls:
            print(pixel_difference(out / "current" / f"{call[0]}.png", out / "baseline" / f"{call[0]}.png"))
    shutil.rmtree(scratch)


def pixel_difference(current: Path, baseline: Path) -> str:
    """How two PNGs differ: identical bytes, else their sizes or the share of pixels that differ and by how much
    at most (0–1 per channel)."""
    import matplotlib.image as mpimg
    import numpy as np

    if current.read_bytes() == baseline.read_bytes():
        return f"{current.stem}: identical files"
    a, b = mpimg.imread(current), mpimg.imread(baseline)
    if a.shape != b.shape:
        return f"{current.stem}: {a.shape[1]}×{a.shape[0]} px, baseline {b.shape[1]}×{b.shape[0]} px"
    differ = np.abs(a - b).max(axis=2)
    if not differ.any():
        return f"{current.stem}: identical pixels"
    return (
        f"{current.stem}: {100 * np.mean(differ > 0):.2f}% of pixels differ (max {differ.max():.3f}; "
        f"{100 * np.mean(differ > 0.25):.2f}% by more than 0.25)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", default="c62ead9", help="git revision of the baseline figures.py")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench_figures")
    parser.add_argument("--dump", action="store_true", help="keep both sides' SVG and PNG files")
    args = parser.parse_args()
    main(args.repeats, args.baseline, args.out, args.dump)
