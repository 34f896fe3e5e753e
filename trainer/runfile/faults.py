"""Fault injection for the crash-safety tests: `TRAINER_CRASH_AT=POINT[@N]` SIGKILLs the writer at a named point.

Each point is a step of the write protocol (docs/run-file.md); the process kills itself the N-th time
(default 1) it passes the named one, which makes a kill at every instant of interest reproducible, the
way SQLite's crash tests do it. Unset, the hook costs one environment lookup per call.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_ENV = "TRAINER_CRASH_AT"
POINTS = (
    "create.temp",  # the new file is complete as `RUN.creating`, not yet in place
    "create.replaced",  # the new file is the run file, nothing committed yet
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
_passes: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """SIGKILL this process if `TRAINER_CRASH_AT` names this point and this is its N-th pass."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    target, _, nth = spec.partition("@")
    if target != name:
        return
    _passes[name] += 1
    if _passes[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
