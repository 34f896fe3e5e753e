"""Analyses of many runs on Dask (analyzer/core/parallel.py): results equal serial ones, the Hessian's checkpoints
spread over workers, damaged runs fail alone, and a worker killed mid-task does not lose or corrupt anything."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from helpers import small_config

from analyzer.core.parallel import Job, cluster, compute_jobs
from analyzer.core.runner import analyze, cached_result
from analyzer.io.run import open_run
from trainer.engines.loop import train

HESSIAN_EVERY = {"at": "every", "every": 20}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parallel")
    train(small_config(epochs=200, ckpt_every=10), folder / "a.h5")
    train(small_config("sgd", epochs=200, ckpt_every=10, seed=1), folder / "b.h5")
    (folder / "damaged.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 4000)
    return folder


ROUNDING_DIAGNOSTICS = ("max_rel_residual", "eigenvalue_error", "zero_tol", "trace_err")


def jobs_for(paths) -> list[Job]:
    return [job for path in paths for job in (
        Job(str(path), "plateaus"), Job(str(path), "spectrum", {"threshold": 0.2}),
        Job(str(path), "hessian", dict(HESSIAN_EVERY)), Job(str(path), "correlate", {"n_permutations": 99}))]


def assert_cached_equals_serial(path):
    with open_run(path) as run:
        for job in jobs_for([path]):
            cached = cached_result(run, job.name, **job.overrides)
            assert cached is not None, job.name
            fresh = analyze(run, job.name, use_cache=False, **job.overrides)
            for title, frame in fresh.tables().items():
                timing = [c for c in frame.columns if c in ("seconds", "cost_gradients")]
                # rounding diagnostics (a residual of ~1e-12) may differ in the last bits between a single-threaded
                # worker and this process's BLAS threads; every result is compared exactly
                rounding = [c for c in frame.columns if c in ROUNDING_DIAGNOSTICS]
                left, right = cached.tables()[title].drop(columns=timing), frame.drop(columns=timing)
                pd.testing.assert_frame_equal(left.drop(columns=rounding), right.drop(columns=rounding),
                                              check_exact=True)
                pd.testing.assert_frame_equal(left[rounding], right[rounding], check_exact=False, rtol=1e-9, atol=0)


@pytest.mark.slow
def test_jobs_on_two_workers_fill_the_caches_with_the_serial_results(runs, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for path in runs.glob("*.h5"):
        (work / path.name).write_bytes(path.read_bytes())
    damaged_bytes = (work / "damaged.h5").read_bytes()
    paths = sorted(work.glob("*.h5"))
    with cluster(workers=2) as client:
        done = dict(compute_jobs(client, jobs_for(paths)))
    assert set(done) == {str(p) for p in paths}
    assert done[str(work / "a.h5")] == {} and done[str(work / "b.h5")] == {}
    assert set(done[str(work / "damaged.h5")]) == {"plateaus", "spectrum", "hessian", "correlate"}
    assert (work / "damaged.h5").read_bytes() == damaged_bytes
    for name in ("a.h5", "b.h5"):
        assert_cached_equals_serial(work / name)
    with open_run(work / "a.h5") as run:  # the Hessian went every 20 steps, i.e. in 11 parts
        assert len(cached_result(run, "hessian", **HESSIAN_EVERY).table) == 11


@pytest.mark.slow
def test_a_worker_killed_mid_task_loses_nothing(runs, tmp_path):
    from sweep_helpers import kill_group, spawn, wait_for

    from distributed import Client

    work = tmp_path / "work"
    work.mkdir()
    slow = dataclasses.replace(small_config(epochs=200, ckpt_every=5), dtype="float64")
    train(slow, work / "slow.h5")
    scheduler_file = tmp_path / "scheduler.json"
    procs = [spawn("-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(scheduler_file))]
    try:
        wait_for(scheduler_file.exists, what="the scheduler file")
        workers = [spawn("-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--host",
                         "127.0.0.1", "--nthreads", "1", "--no-dashboard", "--name", f"w{i}") for i in range(2)]
        procs += workers
        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            jobs = [Job(str(work / "slow.h5"), "hessian", {"at": "every", "every": 5})]
            done = []
            outcomes = compute_jobs(client, jobs)
            victim = next(iter(w for w, info in client.scheduler_info()["workers"].items() if info["name"] == "w0"))

            def victim_busy() -> bool:
                return any("_part" in str(key) for key in client.processing().get(victim, ()))

            import threading

            collector = threading.Thread(target=lambda: done.extend(outcomes))
            collector.start()
            wait_for(victim_busy, what="worker w0 computing a Hessian part")
            kill_group(workers[0])
            collector.join(timeout=240)
            assert not collector.is_alive(), "the jobs did not finish after the kill"
    finally:
        for proc in procs:
            kill_group(proc)
    assert done == [(str(work / "slow.h5"), {})]
    with open_run(work / "slow.h5") as run:
        cached = cached_result(run, "hessian", at="every", every=5)
        fresh = analyze(run, "hessian", use_cache=False, at="every", every=5)
    assert len(cached.table) == 41
    columns = [c for c in fresh.table.columns if c not in ("seconds", "cost_gradients", *ROUNDING_DIAGNOSTICS)]
    pd.testing.assert_frame_equal(cached.table[columns], fresh.table[columns], check_exact=True)
    rounding = [c for c in fresh.table.columns if c in ROUNDING_DIAGNOSTICS]
    pd.testing.assert_frame_equal(cached.table[rounding], fresh.table[rounding], check_exact=False, rtol=1e-9, atol=0)


@pytest.mark.slow
def test_a_report_computed_on_workers_equals_the_serial_one(runs, tmp_path):
    from analyzer.report import ReportOptions, build_report

    copies = {}
    for mode in ("serial", "workers"):
        folder = tmp_path / mode
        folder.mkdir()
        copies[mode] = [folder / name for name in ("a.h5", "b.h5")]
        for path in copies[mode]:
            path.write_bytes((runs / path.name).read_bytes())
    serial = build_report(copies["serial"], ReportOptions(workers=1))
    parallel = build_report(copies["workers"], ReportOptions(workers=2))
    normalize = lambda text, mode: text.replace(str(tmp_path / mode), "RUNS")  # noqa: E731
    assert normalize(parallel.markdown, "workers") == normalize(serial.markdown, "serial")
    assert sorted(parallel.figures) == sorted(serial.figures)


def test_a_deeper_run_of_the_same_file_size_is_costed_higher(runs, tmp_path):
    """Jobs start in cost order: depth counts (deep's Hessian costs ~8x wide's at one file size), size too."""
    from analyzer.core.parallel import file_cost

    shallow, deep = tmp_path / "shallow.h5", tmp_path / "deep.h5"
    train(small_config(epochs=40, ckpt_every=10), shallow)
    config = small_config(epochs=40, ckpt_every=10)
    train(dataclasses.replace(config, model=dataclasses.replace(config.model, depth=4)), deep)
    per_kb = {path.name: file_cost(path) / (path.stat().st_size // 1000) for path in (shallow, deep)}
    assert per_kb["deep.h5"] == 16 * per_kb["shallow.h5"] / config.model.depth ** 2
    assert file_cost(runs / "damaged.h5") == (runs / "damaged.h5").stat().st_size // 1000
    assert file_cost(tmp_path / "missing.h5") == 0
