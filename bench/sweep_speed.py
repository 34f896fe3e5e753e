"""A 32-run study (4 presets x 8 seeds) through `train sweep` vs the same runs as plain PyTorch loops in sequence.

Usage (from the repo root): OMP_NUM_THREADS=1 .venv/bin/python bench/sweep_speed.py [--epochs 10000] [--seeds 0-7]
The sweep is the real command (a subprocess: imports, local Dask cluster, run files with dense logging,
all included); the plain loops train the same models on the same data with the same optimizers, one
thread, no logging, one after another. Prints both wall times and the ratio plain / sweep (the speed-up).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.config import DEFAULT_STUDY  # noqa: E402
from trainer.sweep.plan import parse_int_set, plan_sweep  # noqa: E402
from train_overhead import plain_loop  # noqa: E402  (bench/ is on the path: the same plain loop)


def sweep(presets: str, seeds: str, epochs: int, workers: int | None, folder: Path) -> tuple[float, dict]:
    command = [sys.executable, "-m", "trainer.cli", "sweep", "--presets", presets, "--seeds", seeds, "--epochs",
               str(epochs), "--out", str(folder), "--json"] + (["--workers", str(workers)] if workers else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"train sweep failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000, help="epochs per run (the study uses 10,000)")
    parser.add_argument("--presets", default=",".join(DEFAULT_STUDY))
    parser.add_argument("--seeds", default="0-7")
    parser.add_argument("--workers", type=int, default=None, help="sweep workers [default: one per core]")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in each sweep worker
    runs = plan_sweep(args.presets.split(","), parse_int_set(args.seeds, "seeds"), {"epochs": (args.epochs,)})
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {len(runs)} runs x {args.epochs} epochs; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        sweep_s, summary = sweep(args.presets, args.seeds, args.epochs, args.workers, Path(tmp) / "sweep")
    busy_s = sum(run["seconds"] for run in summary["runs"])
    print(f"train sweep : {sweep_s:7.1f} s wall ({busy_s:.1f} s of training summed over runs, "
          f"{summary['counts']}); load average {os.getloadavg()[0]:.1f}")
    plain_loop(dataclasses.replace(runs[0].config, epochs=200))  # warm-up: torch's first calls are slow
    per_preset: dict[str, float] = {}
    for run in runs:
        per_preset[run.config.preset] = per_preset.get(run.config.preset, 0.0) + plain_loop(run.config)
    plain_s = sum(per_preset.values())
    steps = {p: sum(1 for r in runs if r.config.preset == p) * args.epochs for p in per_preset}
    detail = ", ".join(f"{p} {1e6 * s / steps[p]:.0f} us/step" for p, s in per_preset.items())
    print(f"plain loops : {plain_s:7.1f} s in sequence ({detail})")
    print(f"speed-up plain / sweep: {plain_s / sweep_s:.2f}x; load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
