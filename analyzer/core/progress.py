"""Progress of long work on stderr: a rich bar on a terminal, one-line updates otherwise (a log, a pipe, a batch job).

A command opens one display (`display`); the work inside reports through module functions that do nothing when
no display is open (a library call, a Dask worker): `task` starts a unit of work with a budget (e.g. the HVPs
of one Hessian checkpoint), `tick` advances it (the Hessian analysis hands it to its operators as `on_product`,
called once per product), `note` prints a line, `expect` adds to the budget. Lines are rate-limited to one per
`interval` seconds; a heartbeat prints the current state when nothing else was printed for `interval`, so
redirected output never goes silent for longer, while a command that ends (or fails: its one-line error) within
the first interval prints nothing else. The bar is transient and is removed before any error is printed: no bar
is left over after an error.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
INTERVAL_S = 30.0  # one-line mode: at most one update per this many seconds, and at least one (heartbeat)


class _Slot:
    """The one open display of this process (stderr is one): set by `display`, read from any thread (a Dask
    client's callbacks report finished checkpoints from their own thread)."""

    def __init__(self):
        self.value = None

    def get(self):
        return self.value

    def set(self, value):
        previous, self.value = self.value, value
        return previous

    def reset(self, previous) -> None:
        self.value = previous


_active = _Slot()


class _Display:
    """What both modes share: the current task, its budget and what is done."""

    def __init__(self, title: str, stream, interval: float):
        self.title, self.stream, self.interval = title, stream, interval
        self.started = time.monotonic()
        self.description, self.unit, self.total, self.done, self.lock = "", "", 0, 0, threading.Lock()

    def status(self) -> str:
        budget = f": {self.done:,}/{self.total:,} {self.unit}" if self.total else ""
        what = f": {self.description}{budget}" if self.description else ": working"
        return f"{self.title}{what} ({_elapsed(time.monotonic() - self.started)})"

    def task(self, description: str, total: int, unit: str) -> None:
        with self.lock:
            self.description, self.total, self.done, self.unit = description, int(total), 0, unit
        self.refresh()

    def expect(self, n: int, unit: str) -> None:
        if unit == self.unit:
            with self.lock:
                self.total += n
            self.refresh()

    def advance(self, n: int, unit: str, line: bool = False) -> None:
        if unit != self.unit:  # another kind of work (HVPs inside a task counting runs): not this bar's
            return
        with self.lock:
            self.done += n
            self.total = max(self.total, self.done) if self.total else 0
        self.refresh(force=line)

    def refresh(self, force: bool = False) -> None:
        raise NotImplementedError

    def note(self, text: str) -> None:
        raise NotImplementedError

    def close(self, ok: bool) -> None:
        pass


class _Lines(_Display):
    """One line per update on a stream that is not a terminal, rate-limited, with a heartbeat thread."""

    def __init__(self, title: str, stream, interval: float):
        super().__init__(title, stream, interval)
        self.last, self.printed = self.started, False  # quiet for the first interval: a quick command (or a
        # one-line error) prints nothing else
        self.stop = threading.Event()
        self.heartbeat = threading.Thread(target=self._beat, daemon=True)
        self.heartbeat.start()

    def _beat(self) -> None:
        while not self.stop.wait(self.interval / 3):
            if time.monotonic() - self.last >= self.interval:
                self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.note(self.status())

    def note(self, text: str) -> None:
        with self.lock:
            self.last, self.printed = time.monotonic(), True
            print(text, file=self.stream, flush=True)

    def close(self, ok: bool) -> None:
        self.stop.set()
        if ok and self.printed:
            self.note(f"{self.title}: done in {_elapsed(time.monotonic() - self.started)}")


class _Bar(_Display):
    """A transient rich bar (terminal): description, bar, done/budget, elapsed time."""

    def __init__(self, title: str, stream, interval: float):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(title, stream, interval)
        self.console = Console(file=stream, stderr=stream is sys.stderr)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), console=self.console,
                            transient=True)
        self.bar.start()
        self.handle = self.bar.add_task(title, total=None, unit="")

    def refresh(self, force: bool = False) -> None:
        self.bar.update(self.handle, description=f"{self.title}: {self.description}", total=self.total or None,
                        completed=self.done, unit=self.unit)

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def close(self, ok: bool) -> None:
        self.bar.stop()


@contextlib.contextmanager
def display(title: str, stream=None, interval: float = INTERVAL_S, terminal: bool | None = None):
    """Open the progress display of a command (nested calls reuse the open one); closed on any exit."""
    if _active.get() is not None:
        yield _active.get()
        return
    stream = stream or sys.stderr
    is_terminal = terminal if terminal is not None else bool(getattr(stream, "isatty", lambda: False)())
    shown = (_Bar if is_terminal else _Lines)(title, stream, interval)
    token, ok = _active.set(shown), False
    try:
        yield shown
        ok = True
    finally:
        _active.reset(token)
        shown.close(ok)


def task(description: str, total: int = 0, unit: str = "") -> None:
    """Start a unit of work with a budget of `total` `unit`s (0: no budget, only its name and time)."""
    shown = _active.get()
    if shown is not None:
        shown.task(description, total, unit)


def tick(n: int = 1, unit: str = "HVPs", line: bool = False) -> None:
    """Advance the current task by n, if it counts this unit (cheap when no display is open); line: a unit worth a
    line of its own in a log (a Hessian checkpoint, minutes of work), printed at once, not rate-limited."""
    shown = _active.get()
    if shown is not None:
        shown.advance(n, unit, line)


def expect(n: int, unit: str) -> None:
    """Add n to the current task's budget, if it counts this unit (work discovered as it goes)."""
    shown = _active.get()
    if shown is not None:
        shown.expect(n, unit)


def note(text: str) -> None:
    """A line above the bar (terminal) or in the log."""
    shown = _active.get()
    if shown is not None:
        shown.note(text)


def _elapsed(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def duration(seconds: float) -> str:
    """A rough time in words (an estimate, unlike the elapsed times above): "40 s", "12 min", "1.7 h"."""
    if seconds < 1:
        return "1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
