"""`train sweep` on Dask: planning and validation, idempotent reruns, resume, failures, a real scheduler
with a worker killed mid-sweep, and SIGINT / SIGKILL of the sweep followed by a rerun."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from trainer.cli import app
from trainer.config import TrainConfig
from trainer.errors import ConfigError
from trainer.engines.loop import train
from trainer.sweep.plan import MANIFEST, parse_int_set, plan_sweep

REPO = Path(__file__).resolve().parents[1]
TINY = ["--epochs", "30", "--n-train", "64", "--width", "8"]
SLOW = ["--epochs", "2000", "--n-train", "64", "--width", "8"]  # 0.4 s (quiet) to 4 s (loaded machine) per run
DATASETS = ("log/step", "log/loss", "log/grad_norm", "log/lr", "log/pred_step", "log/pred", "ckpt/step", "ckpt/params")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def one_thread():
    """Reference runs with one thread, like the sweep's workers (thread count can change float sums)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def assert_complete(path: Path, epochs: int) -> None:
    """Status complete, one log row per step, checkpoints and predictions exactly where they belong."""
    with h5py.File(path, "r") as f:
        config = TrainConfig.from_json(f.attrs["config"])
        assert f.attrs["status"] == "complete", path
        assert f["log/step"][:].tolist() == list(range(epochs)), path
        ckpt_steps = sorted(set(range(0, epochs, config.ckpt_every)) | {epochs})
        assert f["ckpt/step"][:].tolist() == ckpt_steps, path
        pred_steps = sorted(set(range(0, epochs, config.pred_every)) | {epochs})
        assert f["log/pred_step"][:].tolist() == pred_steps, path
        assert f["commit"][:3].tolist() == [epochs, len(pred_steps), len(ckpt_steps)], path
        assert np.all(np.isfinite(f["log/loss"][:])), path


def assert_bitwise_equal(path: Path, reference: Path) -> None:
    with h5py.File(path, "r") as f, h5py.File(reference, "r") as g:
        assert f.attrs["config"] == g.attrs["config"]
        for name in DATASETS:
            assert np.array_equal(f[name][...], g[name][...]), name


def manifest_config(folder: Path, file: str) -> TrainConfig:
    entries = json.loads((folder / MANIFEST).read_text())["runs"]
    return TrainConfig.from_dict(next(e["config"] for e in entries if e["file"] == file))


# ---- planning and validation (no cluster) -------------------------------------------------------
@pytest.mark.parametrize("text, expected", [("0-7", tuple(range(8))), ("0,2,5", (0, 2, 5)), ("0-3,8", (0, 1, 2, 3, 8)),
                                            ("3,1-2,3", (3, 1, 2)), (" 4 ", (4,))])
def test_seed_syntax(text, expected):
    assert parse_int_set(text, "seeds") == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "-1", "1.5", "0-", "1,,x"])
def test_bad_seed_syntax(text):
    with pytest.raises(ConfigError, match="--seeds"):
        parse_int_set(text, "seeds")


def test_plan_names_runs_from_the_varied_fields():
    runs = plan_sweep(["baseline", "sgd"], (0, 3), {"lr": (0.01, 0.001), "epochs": (50,), "width": (8,)})
    assert [r.file for r in runs] == [f"{p}-s{s}-lr{lr}.h5" for p in ("baseline", "sgd") for s in (0, 3)
                                      for lr in ("0.01", "0.001")]
    assert all(r.config.epochs == 50 and r.config.model.width == 8 for r in runs)
    assert runs[1].config.lr == 0.001 and runs[1].varied == {"lr": 0.001}
    grid = plan_sweep(["deep"], (1,), {"activation": ("relu", "tanh"), "n-train": (64, 128)})
    assert [r.file for r in grid] == ["deep-s1-activationrelu-ntrain64.h5", "deep-s1-activationrelu-ntrain128.h5",
                                      "deep-s1-activationtanh-ntrain64.h5", "deep-s1-activationtanh-ntrain128.h5"]
    assert grid[3].config.model.activation == "tanh" and grid[3].config.target.n_train == 128


def test_plan_replicates_are_perturbation_seeds():
    runs = plan_sweep(["baseline"], (0,), {"perturb": (1e-7,)}, replicates=(0, 1, 2))
    assert [r.file for r in runs] == ["baseline-s0-p0.h5", "baseline-s0-p1.h5", "baseline-s0-p2.h5"]
    assert [(r.config.perturb, r.config.perturb_seed) for r in runs] == [(1e-7, 0), (1e-7, 1), (1e-7, 2)]
    with pytest.raises(ConfigError, match="--replicates needs --perturb"):
        plan_sweep(["baseline"], (0,), {}, replicates=(0, 1))


@pytest.mark.parametrize("args, fragment", [
    (["--presets", "baseline,nope"], "unknown preset"),
    (["--seeds", "0-x"], "--seeds takes"),
    (["--lr", "0.1,-1"], "lr must be positive"),
    (["--lr", "fast"], "--lr takes comma-separated numbers"),
    (["--epochs", "10,0"], "epochs must be positive"),
    (["--width", "8.5"], "--width takes comma-separated integers"),
    (["--optimizer", "adam,lbfgs"], "unknown optimizer"),
    (["--activation", "swish"], "unknown activation"),
    (["--dtype", "float16"], "unknown dtype"),
    (["--n-train", "16", "--epochs", "5"], "Nyquist"),
    (["--replicates", "0-3"], "--replicates needs --perturb"),
    (["--perturb", "-1e-7"], "perturb must be zero or positive"),
    (["--scheduler", "tcp://127.0.0.1:1"], "cannot reach the Dask scheduler"),
])
def test_bad_sweeps_are_refused_before_anything_starts(tmp_path, args, fragment):
    import dask
    import distributed  # noqa: F401 - its config defaults must exist before dask.config.set copies the config

    out = tmp_path / "sweep"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = invoke("sweep", "--out", str(out), *args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], result.output
    assert not out.exists()


def test_a_file_with_another_config_is_refused_and_kept(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    train(plan_sweep(["sgd"], (0,), {"epochs": (5,), "n-train": (64,), "width": (8,)})[0].config, out / "sgd-s0.h5")
    before = fingerprint(out)
    result = invoke("sweep", "--presets", "sgd", "--out", str(out), *TINY)
    assert result.exit_code == 2 and "holds a different configuration" in result.output
    assert fingerprint(out) == before


def test_a_diverged_run_is_a_result_not_a_failure(tmp_path, one_thread):
    from trainer.sweep.runner import SweepSummary, execute_run

    config = plan_sweep(["sgd"], (0,), {"lr": (1e6,), "epochs": (50,), "n-train": (64,), "width": (8,)})[0].config
    outcome = execute_run(config.to_json(), str(tmp_path / "sgd-s0.h5"), False)  # the task body, no cluster
    assert (outcome.action, outcome.status) == ("trained", "diverged") and outcome.steps < 50
    again = execute_run(config.to_json(), str(tmp_path / "sgd-s0.h5"), False)
    assert (again.action, again.status) == ("kept", "diverged")
    assert SweepSummary(tmp_path, (outcome,)).failed == ()


# ---- a local cluster ----------------------------------------------------------------------------
def test_local_workers_get_training_friendly_settings():
    """No MALLOC_TRIM_THRESHOLD_ (it made steps ~2x slower), no profiler, and SIGINT ignored from birth
    (a Ctrl-C to the terminal reaches only the sweep, which stops the workers)."""
    from trainer.sweep.cluster import dask_client

    def worker_settings():
        import dask

        sig_ignored = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("SigIgn")), 16)
        return (os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get("distributed.worker.profile.enabled"),
                bool(sig_ignored & (1 << (signal.SIGINT - 1))))

    with dask_client(None, 1) as client:
        settings = list(client.run(worker_settings).values())
    assert settings == [(None, False, True)]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored in this process


def test_longest_runs_go_first_and_a_local_cluster_gets_one_run_per_worker(tmp_path, one_thread):
    """Submission order follows the estimated cost (deep's six layers above wide's multiply-adds); with
    `slots` the scheduler never holds more runs than there are workers, so none waits on a busy worker."""
    from distributed import Client

    from trainer.sweep.runner import _submit_and_collect
    from trainer.sweep.plan import estimated_cost

    runs = plan_sweep(["sgd", "wide", "baseline", "deep"], (0,), {"epochs": (3,), "n-train": (64,)})
    costs = {run.file: estimated_cost(run.config) for run in runs}
    assert costs["deep-s0.h5"] > costs["wide-s0.h5"] > costs["baseline-s0.h5"] >= costs["sgd-s0.h5"]
    for slots in (1, 2, None):
        out = tmp_path / f"slots-{slots}"
        out.mkdir()
        submitted, in_flight, outcomes = [], [], {}
        with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
            real_submit = client.submit

            def recording_submit(fn, *args, **kwargs):
                in_flight.append(sum(1 for f in futures_seen if not f.done()))
                submitted.append(Path(args[1]).name)
                future = real_submit(fn, *args, **kwargs)
                futures_seen.append(future)
                return future

            futures_seen: list = []
            client.submit = recording_submit
            _submit_and_collect(client, out, runs, False, 0, outcomes, None, None, slots=slots)
        assert sorted(submitted) == sorted(costs)
        assert [costs[f] for f in submitted] == sorted(costs.values(), reverse=True)  # ties in any order
        assert set(outcomes) == set(costs) and all(o.action == "trained" for o in outcomes.values())
        assert max(in_flight) <= (len(runs) - 1 if slots is None else slots - 1)


def test_local_sweep_trains_resumes_reports_failures_and_reruns_as_a_no_op(tmp_path, one_thread):
    """Seed 2 was prepared by hand: baseline interrupted at step 15 (resumable), sgd's path holds
    something that is no run file (a failure that must not stop the others, nor be overwritten)."""
    out = tmp_path / "sweep"
    out.mkdir()
    config = plan_sweep(["baseline"], (2,), {"epochs": (30,), "n-train": (64,), "width": (8,)})[0].config
    train(config, tmp_path / "reference-s2.h5")
    train(config, out / "baseline-s2.h5", progress=interrupt_at(15), commit_every_s=0.0)
    (out / "sgd-s2.h5").write_bytes(b"not a run file")

    args = ["sweep", "--presets", "baseline,sgd", *TINY, "--out", str(out), "--json"]
    first = invoke(*args, "--seeds", "0-2")  # the default LocalCluster
    assert first.exit_code == 1, first.output
    summary = json.loads(first.stdout)
    trained = ["baseline-s0.h5", "baseline-s1.h5", "sgd-s0.h5", "sgd-s1.h5"]
    assert {run["file"]: run["action"] for run in summary["runs"]} == dict.fromkeys(trained, "trained") | {
        "baseline-s2.h5": "resumed", "sgd-s2.h5": "failed"}
    assert summary["failed"] == [{"file": "sgd-s2.h5", "error": f"{out / 'sgd-s2.h5'} is not an HDF5 file"}]
    assert "failed: sgd-s2.h5" in first.stderr
    assert (out / "sgd-s2.h5").read_bytes() == b"not a run file"
    for name in trained + ["baseline-s2.h5"]:
        assert_complete(out / name, 30)
    assert_bitwise_equal(out / "baseline-s2.h5", tmp_path / "reference-s2.h5")  # resumed == trained alone
    train(manifest_config(out, "sgd-s1.h5"), tmp_path / "reference-sgd-s1.h5")  # what `train run` writes
    assert_bitwise_equal(out / "sgd-s1.h5", tmp_path / "reference-sgd-s1.h5")
    assert {e["file"] for e in json.loads((out / MANIFEST).read_text())["runs"]} == set(trained) | {
        "baseline-s2.h5", "sgd-s2.h5"}

    before = fingerprint(out)
    again = invoke(*args, "--seeds", "0-1")  # a no-op: nothing rewritten, not even the manifest
    assert again.exit_code == 0 and json.loads(again.stdout)["counts"] == {"kept": 4}
    assert fingerprint(out) == before
    failing_again = invoke(*args, "--seeds", "0-2")
    assert failing_again.exit_code == 1
    assert json.loads(failing_again.stdout)["counts"] == {"kept": 5, "failed": 1}
    assert fingerprint(out) == before


def interrupt_at(stop_step: int):
    def progress(step: int, loss: float) -> None:
        if step == stop_step:
            raise KeyboardInterrupt  # what Ctrl-C does inside `train run`: the run ends `interrupted`
    return progress


# ---- processes: a real scheduler, killed workers, signals ---------------------------------------
def subprocess_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def spawn(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=subprocess_env(), start_new_session=True, text=True,
                            **kwargs)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


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
    """A scheduler and two single-threaded workers, each a separate process group on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [spawn("-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(scheduler_file), **quiet)]
    try:
        wait_for(scheduler_file.exists, what="the scheduler file")
        workers = [spawn("-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--host",
                         "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", f"w{i}",
                         **quiet) for i in range(2)]
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

    interrupted = spawn(*command, **pipes)
    try:
        wait_for(lambda: in_progress(out), what="a run in progress")
        os.killpg(interrupted.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        _, stderr = interrupted.communicate(timeout=60)
    finally:
        kill_group(interrupted)
    assert interrupted.returncode == 130, stderr
    assert "interrupted: rerun the same command" in stderr and "Traceback" not in stderr

    before = {path.name: identity(path) for path in out.glob("*.h5")}
    killed = spawn(*command, **pipes)
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
