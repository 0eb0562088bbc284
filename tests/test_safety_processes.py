"""No orphan processes after the parent is killed with kill -9; Ctrl-C exits 130 leaving nothing (issue 14)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from study_data import write_study

POOL = textwrap.dedent(
    """
    import time
    from osteobiome.compute.executors import process_pool

    if __name__ == "__main__":
        with process_pool(2) as pool:
            futures = [pool.submit(time.sleep, 120) for _ in range(2)]
            time.sleep(1.5)
            print("ready", flush=True)
            time.sleep(120)
    """
)


OSTEOBIOME = [sys.executable, "-c", "from osteobiome.cli import main; main()"]


def survivors(procs: list[psutil.Process], within: float = 6.0) -> list[psutil.Process]:
    """The processes of ``procs`` still running (not zombies) after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def descendants_after_kill(proc: subprocess.Popen) -> tuple[int, list[psutil.Process]]:
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return len(children), survivors(children)


def test_workers_forkserver_and_resource_tracker_die_with_a_killed_parent(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(POOL)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        n, alive = descendants_after_kill(proc)
    finally:
        proc.kill()
    assert n >= 3  # forkserver, resource tracker, 2 workers
    leftover = [(p.pid, p.cmdline()) for p in alive]
    for p in alive:
        p.kill()
    assert leftover == []


def slow_study(tmp_path: Path) -> Path:
    return write_study(
        tmp_path / "study",
        n=(300, 300),
        diversity={"alpha": ["shannon"], "beta": ["braycurtis", "jaccard"], "permutations": 20000, "seed": 1},
    )


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_run_with_workers_killed_leaves_no_processes(tmp_path):
    study = slow_study(tmp_path)
    out = tmp_path / "res"
    cli = [*OSTEOBIOME, "run", str(study), "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        me = psutil.Process(proc.pid)
        assert wait_for(lambda: len(me.children(recursive=True)) >= 4), "the workers never started"
        time.sleep(0.5)
        n, alive = descendants_after_kill(proc)
    finally:
        proc.kill()
    leftover = [(p.pid, p.cmdline()) for p in alive]
    for p in alive:
        p.kill()
    assert leftover == []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_during_run_exits_130_and_writes_nothing(tmp_path, workers):
    study = slow_study(tmp_path)
    out = tmp_path / "res"
    cli = [*OSTEOBIOME, "run", str(study), "--out", str(out), "--workers", workers, "--quiet"]
    proc = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: any(p.name.startswith(".res.tmp-") for p in tmp_path.iterdir())), "never started"
        time.sleep(1.0)
        children = psutil.Process(proc.pid).children(recursive=True)
        for p in [psutil.Process(proc.pid), *children]:  # what a terminal's Ctrl-C does: the whole group
            try:
                p.send_signal(signal.SIGINT)
            except psutil.NoSuchProcess:
                pass
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]
    assert survivors(children) == []


def test_an_error_in_the_pool_block_stops_its_running_workers_while_the_parent_lives_on():
    from osteobiome.compute.executors import process_pool

    me = psutil.Process()

    def grandchildren() -> set[psutil.Process]:  # the workers are the forkserver's children
        return {p for p in me.children(recursive=True) if p.ppid() != me.pid}

    before = grandchildren()
    with pytest.raises(RuntimeError, match="stop"), process_pool(2) as pool:
        for _ in range(2):
            pool.submit(time.sleep, 120)
        assert wait_for(lambda: len(grandchildren() - before) >= 2)
        workers = list(grandchildren() - before)
        raise RuntimeError("stop")
    assert survivors(workers) == []
