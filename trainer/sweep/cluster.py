"""The one Dask client helper of the project: `train sweep` and the analyzer's reports and studies use it.

A client of an existing scheduler, or of a local cluster of single-threaded worker processes with the settings a
tight numerical loop needs (LOCAL_WORKER_CONFIG); Ctrl-C is held while Dask starts or stops a cluster.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import Iterator

from trainer.errors import TrainerError

# Dask's worker defaults suit data frames, not a tight training loop (bench/RESULTS.md, sweep speed):
LOCAL_WORKER_CONFIG = {
    # MALLOC_TRIM_THRESHOLD_ also pins glibc's mmap threshold: every tensor over 128 KiB becomes a
    # fresh mmap with page faults, which made a baseline step ~2x slower in a worker than alone
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,  # the sampling profiler takes the GIL every 10 ms
}


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` can allow fewer than the machine has)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class SweepError(TrainerError):
    """The cluster cannot be used (e.g. the Dask scheduler is unreachable)."""


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C while Dask stops a cluster (interrupted there, it leaves tracebacks and half-closed
    workers behind), then raise the KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while local workers are spawned: they inherit the ignored SIGINT (a Python
    process keeps it ignored), so a Ctrl-C to the terminal's process group reaches only this process,
    which stops them; otherwise every worker prints its own KeyboardInterrupt traceback. The price:
    a Ctrl-C during the few seconds the cluster takes to start is dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def dask_client(scheduler: str | None, n_workers: int, *, config: dict | None = None,
                connect_timeout: str | None = None, **cluster_options) -> Iterator:
    """A client of the scheduler at `scheduler` (address or scheduler file), or of a new LocalCluster
    with `n_workers` single-threaded worker processes (closed, with its workers, on exit).

    Args:
        config: Dask settings added to LOCAL_WORKER_CONFIG for the local cluster (the analyzer's saturation).
        connect_timeout: how long to wait for an existing scheduler (Dask's connect timeout by default).
        cluster_options: further LocalCluster keywords (host, dashboard_address, env).
    """
    import logging

    import dask
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is not None:
        kwargs = {"scheduler_file": scheduler} if Path(scheduler).is_file() else {"address": scheduler}
        try:
            with deferred_interrupt():
                client = Client(**kwargs, **({"timeout": connect_timeout} if connect_timeout else {}))
        except (OSError, TimeoutError, ValueError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    else:
        with sigint_ignored(), dask.config.set({**LOCAL_WORKER_CONFIG, **(config or {})}):
            options = {"dashboard_address": None, "silence_logs": logging.ERROR, **cluster_options}
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, **options)
            client = Client(cluster)
    try:
        yield client
    finally:
        with deferred_interrupt():
            client.close()
            if cluster is not None:
                cluster.close()
