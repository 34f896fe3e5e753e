"""`train sweep` as processes: a real scheduler with a worker killed mid-sweep, and SIGINT / SIGKILL of the sweep
followed by a rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sweep_helpers import REPO, SLOW, assert_bitwise_equal, assert_complete, manifest_config, one_thread  # noqa: F401
from sweep_helpers import kill_group, spawn, subprocess_env, wait_for

from trainer.engines.loop import train
from trainer.sweep.plan import MANIFEST


# ---- processes: a real scheduler, killed workers, signals ---------------------------------------








def run_status(path: Path) -> tuple[str, int]:
    """(status, committed log rows) of a run file being written by another process."""
    from trainer.runfile.schema import committed, open_swmr_reader

    try:
        with open_swmr_reader(path) as f:
            return str(f.attrs["status"]), committed(f)["log"]
    except Exception:  # noqa: BLE001 - a file being replaced right now: ask again
        return "unreadable", 0


def in_progress(folder: Path, before: dict[str, tuple[int, int]] | None = None) -> list[Path]:
    """Run files being trained now: status running, and created or replaced (a resume makes a new
    file) since `before` was taken. No committed rows are required, so fast machines pass too."""
    before = before or {}
    return [path for path in folder.glob("*.h5")
            if run_status(path)[0] == "running" and identity(path) != before.get(path.name)]


def training_in(pid: int, folder: Path) -> bool:
    """Whether process `pid` or one of its descendants holds the lock of a run in `folder` that is running."""
    tree = descendants(pid) | {pid}
    for lock in folder.glob("*.h5.lock"):
        try:
            holder = int(lock.read_text().strip() or -1)
        except (OSError, ValueError):
            continue
        run = lock.with_name(lock.name[: -len(".lock")])
        if holder in tree and run.exists() and run_status(run)[0] == "running":
            return True
    return False


def identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def descendants(pid: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def dask_processes(tmp_path):
    """A scheduler and two single-threaded workers, each a separate process group on 127.0.0.1; worker 0's first
    run stalls at its 3rd checkpoint (it is there to be killed mid-run, which it then is for certain)."""
    scheduler_file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [spawn("-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(scheduler_file), **quiet)]
    try:
        wait_for(scheduler_file.exists, what="the scheduler file")
        workers = [spawn("-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--host",
                         "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", f"w{i}",
                         stall_at="checkpoint@3" if i == 0 else None, **quiet) for i in range(2)]
        procs += workers
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        yield address, workers
    finally:
        for proc in procs:
            kill_group(proc)


@pytest.mark.slow
def test_sweep_on_a_scheduler_survives_a_killed_worker(tmp_path, dask_processes):
    address, workers = dask_processes
    out = tmp_path / "sweep"
    sweep = spawn("-m", "trainer.cli", "sweep", "--presets", "baseline,sgd", "--seeds", "0-1", *SLOW, "--out",
                  str(out), "--scheduler", address, "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # kill worker 0 while it holds a run: a run's lock file names its writer's pid (trainer/runfile/lock.py)
        wait_for(lambda: training_in(workers[0].pid, out), what="worker 0 training a run")
        kill_group(workers[0])  # the worker and its nanny: this worker is gone for good
        stdout, stderr = sweep.communicate(timeout=120)
    finally:
        kill_group(sweep)
    assert sweep.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["n_runs"] == 4 and not summary["failed"]
    assert "resumed" in summary["counts"], summary["counts"]  # the killed worker's run, retried elsewhere
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "baseline-s0.h5", "baseline-s1.h5", "sgd-s0.h5",
                                                            "sgd-s1.h5"])
    for path in out.glob("*.h5"):
        assert_complete(path, 2000)


@pytest.mark.slow
def test_sigint_then_sigkill_then_rerun_finishes_the_sweep(tmp_path, one_thread):
    out = tmp_path / "sweep"
    command = ("-m", "trainer.cli", "sweep", "--presets", "baseline", "--seeds", "0-1", *SLOW, "--workers", "1",
               "--out", str(out))
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}

    # both runs of the interrupted and the killed sweep stall at their 3rd checkpoint: neither can finish first
    interrupted = spawn(*command, stall_at="checkpoint@3", **pipes)
    try:
        wait_for(lambda: in_progress(out), what="a run in progress")
        os.killpg(interrupted.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        _, stderr = interrupted.communicate(timeout=60)
    finally:
        kill_group(interrupted)
    assert interrupted.returncode == 130, stderr
    assert "interrupted: rerun the same command" in stderr and "Traceback" not in stderr

    before = {path.name: identity(path) for path in out.glob("*.h5")}
    killed = spawn(*command, stall_at="checkpoint@3", **pipes)
    try:
        wait_for(lambda: in_progress(out, before), what="a run in progress again")
        children = descendants(killed.pid)
        assert children  # the local worker (and multiprocessing's resource tracker)
        killed.send_signal(signal.SIGKILL)  # the sweep only: its workers must not outlive it
        killed.communicate(timeout=30)
        wait_for(lambda: not any(alive(pid) for pid in children), timeout=30, what="the workers to exit")
    finally:
        kill_group(killed)
    assert any(run_status(p)[0] != "complete" for p in out.glob("*.h5"))  # there is something left to finish

    rerun = subprocess.run([sys.executable, *command, "--json"], env=subprocess_env(), capture_output=True, text=True,
                           timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert set(summary["counts"]) <= {"kept", "resumed", "trained"} and "resumed" in summary["counts"]
    files = ["baseline-s0.h5", "baseline-s1.h5"]
    assert sorted(p.name for p in out.iterdir()) == sorted(files + [MANIFEST])  # no duplicates, no leftovers
    for name in files:
        assert_complete(out / name, 2000)
    resumed = next(run["file"] for run in summary["runs"] if run["action"] == "resumed")
    train(manifest_config(out, resumed), tmp_path / "reference.h5")
    assert_bitwise_equal(out / resumed, tmp_path / "reference.h5")
