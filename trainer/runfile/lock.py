"""One writer per run file: an OS advisory lock on the sidecar `RUN.h5.lock`, freed by the OS when its holder dies.

The lock lives on a sidecar rather than on the run file because the writer replaces the run file
(`os.replace` at creation, resume and close): a lock held on the old inode would not cover the new
one. `flock` locks belong to the open file description, so the kernel drops them when the holder
exits for any reason, `kill -9` included; a stale `.lock` file therefore never blocks anyone.
Readers (the analyzer) never take the lock and are never blocked by it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from trainer.errors import RunFileError


class RunLockedError(RunFileError):
    """Another live process is writing this run file."""


def lock_path(run_path: Path | str) -> Path:
    run_path = Path(run_path)
    return run_path.with_name(run_path.name + ".lock")


class RunLock:
    """An exclusive, non-blocking lock on one run file; `acquire` refuses at once if it is held."""

    def __init__(self, run_path: Path | str):
        self.run_path = Path(run_path)
        self.path = lock_path(run_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunLock":
        while self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise RunFileError(f"cannot lock {self.run_path}: {self.path}: {err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                raise RunLockedError(_locked_message(self.run_path, holder)) from None
            if _names_inode(self.path, fd):
                self._fd = fd
            else:  # the previous holder unlinked the file between our open and our lock: lock the new one
                os.close(fd)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        return self

    def release(self) -> None:
        """Unlink while still holding (so no one locks a file about to vanish), then unlock by closing."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def check_unlocked(run_path: Path | str) -> None:
    """Raise `RunLockedError` if a live process holds the lock (a pre-check; `RunLock` is what counts)."""
    path = lock_path(run_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunLockedError(_locked_message(Path(run_path), _read_pid(fd))) from None
    finally:
        os.close(fd)


def _names_inode(path: Path, fd: int) -> bool:
    try:
        on_disk, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _locked_message(run_path: Path, pid: int | None) -> str:
    holder = f"process {pid}" if pid is not None else "another process"
    return f"{run_path} is being written by {holder} (lock {lock_path(run_path).name}); wait for it or stop it first"
