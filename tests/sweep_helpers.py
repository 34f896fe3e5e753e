"""What the sweep tests share: tiny run settings, a one-thread fixture and run-file comparisons."""

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
from trainer.runfile.faults import CRASH_ENV, STALL_ENV
from trainer.sweep.plan import MANIFEST

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


def spawn(*args: str, stall_at: str | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=subprocess_env(stall_at), start_new_session=True, text=True,
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


def subprocess_env(stall_at: str | None = None) -> dict[str, str]:
    """The test's environment for a child; `stall_at` (POINT[@N]): its runs stop there until killed
    (trainer/runfile/faults.py), so a test kills them mid-run however fast or loaded the machine is."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {k: v for k, v in os.environ.items() if k not in (CRASH_ENV, STALL_ENV)}
    return {**env, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **({STALL_ENV: stall_at} if stall_at else {})}
