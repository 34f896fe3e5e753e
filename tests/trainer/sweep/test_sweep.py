"""`train sweep` on Dask: planning and validation, idempotent reruns, resume and failures on a local cluster
(a real scheduler and signals: test_sweep_processes.py)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from trainer.errors import ConfigError
from trainer.engines.loop import train
from trainer.sweep.plan import MANIFEST, parse_int_set, plan_sweep

from sweep_helpers import (TINY, assert_bitwise_equal, assert_complete, fingerprint, invoke,  # noqa: F401 - fixture
                           manifest_config, one_thread)


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
