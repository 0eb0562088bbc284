"""Run every quick benchmark (``benchmarks/bench_*.py``) in its own process; ``--all`` adds the long ones.

The long ones are ``calibration.py`` (the FDR/power grid, ~10 min) and ``scale.py`` (up to 10^6 features).
Each script prints absolute times and its ratio against a baseline run in the same process; paste the
numbers into ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LONG = ("calibration.py", "scale.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--all", action="store_true", help="also run the long benchmarks: " + ", ".join(LONG))
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py")) + ([HERE / name for name in LONG if (HERE / name).exists()] if args.all else [])
    failed = []
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        start = time.perf_counter()
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.name)
        print(f"=== {script.name}: {time.perf_counter() - start:.1f} s wall", flush=True)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
