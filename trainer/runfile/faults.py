"""Fault injection for the crash-safety tests: `TRAINER_CRASH_AT=POINT[@N]` SIGKILLs the writer at a named point,
`TRAINER_STALL_AT=POINT[@N]` stops it there until a signal ends it.

Each point is a step of the write protocol (docs/run-file.md); the process acts the N-th time (default 1) it
passes the named one, which makes a kill at every instant of interest reproducible, the way SQLite's crash
tests do it. A stall lets a test kill (or interrupt) a run at a chosen step however fast or loaded the
machine is: the run cannot finish first. Stall at a point of the training thread (`checkpoint`, `create.*`,
`resume.*`) when the test sends SIGINT: the `commit.*` points run in the writer thread, and an interrupted
run waits for that thread when it closes. Unset, the hooks cost two environment lookups per call.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

CRASH_ENV = "TRAINER_CRASH_AT"
STALL_ENV = "TRAINER_STALL_AT"
POINTS = (
    "create.temp",  # the new file is complete as `RUN.creating`, not yet in place
    "create.replaced",  # the new file is the run file, nothing committed yet
    "checkpoint",  # the training thread hands a checkpoint to the writer (every ckpt_every steps)
    "commit.rows",  # a commit appended its rows, not yet flushed, resume slot untouched
    "commit.state",  # rows and the spare resume slot flushed, marker not yet advanced
    "commit.marker",  # marker written and flushed
    "resume.read",  # resume read the old file; stale temporaries removed
    "resume.temp",  # the fresh `RUN.resuming` exists, the kept rows not yet written
    "resume.committed",  # the kept rows and resume state committed in `RUN.resuming`
    "resume.replaced",  # `RUN.resuming` became the run file; the loop has not committed yet
    "close.swmr_closed",  # last commit done and the SWMR file closed; status still "running"
    "close.copied",  # the closed file copied to `RUN.closing` for the status write
    "close.status_open",  # `RUN.closing` open read-write (non-SWMR) with the new status attributes
    "close.status_written",  # `RUN.closing` closed with its final status
    "close.replaced",  # the finished file is the run file; the lock is not yet released
)
_passes: Counter[tuple[str, str]] = Counter()


def crash_point(name: str) -> None:
    """SIGKILL this process, or stall it, if `TRAINER_CRASH_AT` / `TRAINER_STALL_AT` names this point and this
    is its N-th pass."""
    if _reached(CRASH_ENV, name):
        os.kill(os.getpid(), signal.SIGKILL)
    if _reached(STALL_ENV, name):
        while True:  # until a signal ends the process (SIGINT raises KeyboardInterrupt out of the sleep)
            time.sleep(60.0)


def _reached(env: str, name: str) -> bool:
    spec = os.environ.get(env)
    if not spec:
        return False
    target, _, nth = spec.partition("@")
    if target != name:
        return False
    _passes[env, name] += 1
    return _passes[env, name] == int(nth or 1)
