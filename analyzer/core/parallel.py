"""Many runs' analyses on Dask distributed: each result computed once, on some worker, into its run's sidecar cache.

A job is one analysis of one run with the caller's parameters. Jobs run as ordinary `analyze` calls on the
workers, except for analyses that declare a `Split` (the Hessian): those are planned on a worker (which
resolves their dependencies through the cache), their parts (checkpoints) are spread over all workers, and a
last task combines the pieces and stores the result under the same cache key a serial call uses. So one run's
slowest analysis no longer sets the wall time, and a serial `analyze`/report afterwards is all cache hits.

Nothing is returned but errors: the caller reads the results from the caches. Worker functions catch every
error and return it as text, so a damaged run fails its own jobs and nothing else; a worker lost mid-task is
Dask's to retry (the scheduler reschedules its tasks; cache writes are atomic replacements).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from analyzer.core import progress
from analyzer.errors import BadInputError


@dataclass(frozen=True)
class Job:
    """One analysis of one run, with the parameters `analyze` takes (its own, and its dependencies' by name).

    only_if(run) -> bool: the job is done only for runs where it holds (None: every run); read on the worker,
    which has the run open anyway.
    """

    path: str
    name: str
    overrides: dict = field(default_factory=dict)
    only_if: Callable | None = None


@contextlib.contextmanager
def cluster(workers: int | None = None, scheduler: str | None = None):
    """A client on the given scheduler, or on a LocalCluster of single-threaded worker processes (one per core)."""
    from trainer.sweep.cluster import SweepError, dask_client

    workers = workers if workers is not None else os.cpu_count() or 1
    if not scheduler and workers < 1:
        raise BadInputError(f"--workers must be at least 1, got {workers}")
    # Besides the trainer's worker settings (no MALLOC_TRIM_THRESHOLD_: it made the Hessian's many small torch
    # allocations 2x slower, bench/RESULTS.md): worker saturation 1.0, so a worker is sent its next task only when
    # it is free and the priorities (slowest run first) decide what runs next; at Dask's default (1.1) the last of
    # deep's Hessian checkpoints waited behind a busy worker while the other one ran small jobs. Port 0: no
    # dashboard (bokeh is not a dependency), no clash with a cluster on 8787.
    try:
        with dask_client(scheduler or None, workers, config={"distributed.scheduler.worker-saturation": 1.0},
                         connect_timeout="10s", host="127.0.0.1", dashboard_address="127.0.0.1:0",
                         env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}) as client:
            yield client
    except SweepError as err:
        raise BadInputError(str(err)) from None


def warm_up(client) -> list:
    """Every worker imports what analyses need (torch, the registry's analyses) now, while the caller does other
    work; the futures are returned, not waited for (keep them: a released future is cancelled)."""
    workers = list(client.scheduler_info().get("workers", {}))
    return [client.submit(_warm, pure=False, workers=[address], allow_other_workers=True) for address in workers]


def compute_jobs(client, jobs: list[Job], cost: Callable[[str], int] | None = None) -> Iterator[tuple[str, dict]]:
    """Run every job on the cluster; yields (path, {analysis name: error text}) as each run's jobs are all done.

    Args:
        cost: a run's relative cost (higher first): its jobs and parts get that priority, so the slowest
            run starts at once instead of last.
    """
    from distributed import as_completed

    by_path: dict[str, list[Job]] = {}
    for job in jobs:
        by_path.setdefault(job.path, []).append(job)
    costs = {path: cost(path) if cost is not None else 0 for path in by_path}  # each run's cost read once
    pending = {path: len(run_jobs) for path, run_jobs in by_path.items()}
    errors: dict[str, dict] = {path: {} for path in by_path}
    futures = as_completed()
    task_of: dict = {}  # future key -> the run path of a run's task, or the Job of a combine task
    for path in sorted(by_path, key=lambda p: -costs[p]):  # a run's unsplit jobs on one worker: it opens the run once
        future = client.submit(_plan_run, by_path[path], pure=False, priority=costs[path])
        task_of[future.key] = path
        futures.add(future)
    for future in futures:
        task, outcome = task_of.pop(future.key), _outcome(future)
        if isinstance(task, Job):
            outcomes = [(task, outcome)]
        elif outcome[0] == "failed":  # the run's task was lost: every job of the run fails
            outcomes = [(job, outcome) for job in by_path[task]]
        else:
            outcomes = list(zip(by_path[task], outcome[1]))
        for job, done in outcomes:
            if done[0] == "parts":
                futures.add(_submit_parts(client, job, done, costs[job.path], task_of))
                continue
            if done[0] == "failed":
                errors[job.path][job.name] = done[1]
            pending[job.path] -= 1
            if pending[job.path] == 0:
                yield job.path, errors[job.path]


def _submit_parts(client, job: Job, outcome: tuple, cost: int, task_of: dict):
    """A split job's parts spread over the workers (priority the run's `cost` + 1), and the future of the task
    that combines them (+ 2)."""
    _, pieces, context = outcome
    part_futures = [client.submit(_part, job, piece, pure=False, priority=cost + 1) for piece in pieces]
    progress.expect(len(part_futures), "checkpoints")  # the open display, if any, counts them as they finish
    for part in part_futures:
        part.add_done_callback(lambda _: progress.tick(1, "checkpoints", line=True))  # a line each in a log
    combined = client.submit(_combine, job, context, part_futures, pure=False, priority=cost + 2)
    task_of[combined.key] = job
    return combined


def _outcome(future) -> tuple:
    try:
        return future.result()
    except Exception as err:  # noqa: BLE001 -- a worker lost for good (KilledWorker), not the run's fault
        return ("failed", f"worker failed: {_one_line(err)}")


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__


# ---- on the workers --------------------------------------------------------------------------------

def _guard(fn):
    """Worker functions return ("failed", why) instead of raising: a damaged run fails only its own jobs."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except Exception as err:  # noqa: BLE001 -- reported to the caller, which names the run
            return ("failed", _one_line(err))

    return wrapper


@_guard
def _warm() -> tuple:
    import torch  # noqa: F401 -- the Hessian's and the models' import, the slowest

    from analyzer.core import registry, runner  # noqa: F401
    from analyzer.io import run  # noqa: F401

    for name in registry.names():
        registry.get(name)
    return ("done",)


@_guard
def _plan_run(jobs: list[Job]) -> tuple:
    """A run's jobs in order with the run and its cache opened once: ("jobs", [each job's outcome, as _plan
    gives it])."""
    from analyzer.core.runner import opened_with_cache

    with opened_with_cache(jobs[0].path) as (run, cache), _quiet():
        return ("jobs", [_guard(_plan)(job, run, cache) for job in jobs])


def _plan(job: Job, run, cache) -> tuple:
    """A cached, unsplit or skipped job is done here; a split one comes back as its parts and context."""
    from analyzer.core import registry
    from analyzer.core.runner import resolver_for

    if job.only_if is not None and not job.only_if(run):
        return ("done",)
    analysis = registry.get(job.name)
    resolver, params = resolver_for(run, job.name, cache=cache, **job.overrides)
    if analysis.hooks.split is None:
        resolver.result(job.name, params)  # a cache hit or computed and stored
        return ("done",)
    if resolver.cached(job.name, params) is not None:
        return ("done",)
    pieces, context = analysis.hooks.split.plan(run, params, resolver.deps_for(job.name))
    return ("parts", list(pieces), context)


@_guard
def _part(job: Job, piece) -> tuple:
    from analyzer.core import registry
    from analyzer.core.runner import resolver_for
    from analyzer.io.run import open_run

    with open_run(job.path) as run, _quiet():
        _, params = resolver_for(run, job.name, **job.overrides)
        return ("piece", registry.get(job.name).hooks.split.part(run, params, piece))


@_guard
def _combine(job: Job, context, outcomes: list[tuple]) -> tuple:
    from analyzer.core import registry
    from analyzer.core.runner import resolver_for
    from analyzer.io.run import open_run

    failed = [outcome[1] for outcome in outcomes if outcome[0] == "failed"]
    if failed:
        return ("failed", failed[0])
    with open_run(job.path) as run, _quiet():
        resolver, params = resolver_for(run, job.name, **job.overrides)
        result = registry.get(job.name).hooks.split.combine(run, params, context, [outcome[1] for outcome in outcomes])
        resolver.put(job.name, params, result)
        return ("done",)


@contextlib.contextmanager
def _quiet():
    """Workers may share the terminal: keep analyses' own progress bars and warnings off it."""
    import io

    with contextlib.redirect_stderr(io.StringIO()):
        yield


def file_cost(path: str | Path, model_spec: dict | None = None) -> int:
    """File size in kB x (hidden layers)^2: a proxy for the analysis time. The size grows with steps x eval points
    and the checkpoints; the Hessian's cost grows with depth (its rank, hence its HVPs, and their length): deep
    and wide have files of one size, yet deep's Hessian costs ~8x wide's, so it must start first. A linearised
    twin's Hessian is one Jacobian and one eigh whatever its depth (curvature/twin.py): its size alone.

    Args:
        model_spec: the run's stored model spec, where the caller has the run open ({} for an unreadable run);
            None reads it from the file.
    """
    try:
        size_kb = int(Path(path).stat().st_size // 1000)
    except OSError:
        return 0
    return size_kb * _hidden_layers(model_spec if model_spec is not None else _model_spec(path)) ** 2


def _model_spec(path: str | Path) -> dict:
    from analyzer.io.run import open_run

    try:
        with open_run(path) as run:
            return dict(run.model_spec)
    except Exception:  # noqa: BLE001 -- a damaged run is reported by its own jobs, not by its priority
        return {}


def _hidden_layers(model_spec: dict) -> int:
    """The MLP's hidden layers from the stored model spec; 1 for other models, twins or unreadable files."""
    plain_mlp = model_spec.get("kind") == "mlp" and model_spec.get("linearized") is None
    depth = model_spec.get("depth") if plain_mlp else None
    return max(int(depth), 1) if isinstance(depth, int) else 1
