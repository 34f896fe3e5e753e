"""Wall time and peak memory of `plateaus` (+ `spectrum` when registered) on synthetic 10k..100k-step runs.

Runs are written with RunWriter (no training): a log-step piecewise loss with Adam-like spikes, and
1,000-point predictions every 10 steps whose four target sines are learned one after another. Each
(size, analysis) is timed in a fresh subprocess so that ru_maxrss is that analysis's own peak.

    OMP_NUM_THREADS=1 .venv/bin/python bench/plateaus_spectrum_scale.py [--sizes 10000 30000 100000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the editable install resolves `analyzer` only from the repository root; a script's sys.path[0] is bench/
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PRED_EVERY = 10
EVAL_POINTS = 1000


def write_synthetic_run(path: Path, n_steps: int, seed: int = 0) -> None:
    from trainer.config import PRESETS
    from trainer.engines.loop import run_meta
    from trainer.models import build_model
    from trainer.targets import make_data
    from trainer.runfile.writer import RunWriter

    base = PRESETS["baseline"]
    config = dataclasses.replace(base, epochs=n_steps, pred_every=PRED_EVERY, ckpt_every=n_steps,
                                 target=dataclasses.replace(base.target, n_train=EVAL_POINTS))
    model = build_model(config.model, config.seed)
    data = make_data(config.target)
    writer = RunWriter.create(path, run_meta(config, model, data), overwrite=True, commit_every_s=1e9)
    rng = np.random.default_rng(seed)
    steps = np.arange(n_steps)
    u = np.log10(steps + 1.0)
    log_loss = -0.5 * np.clip(u, 0, 1) - 1.5 * np.clip(u - 2, 0, 0.5) - 0.8 * np.clip(u - 3.3, 0, None)
    log_loss += rng.normal(0, 0.01, n_steps)
    spikes = rng.random(n_steps) < 0.02
    log_loss[spikes] += rng.uniform(0.3, 1.0, spikes.sum())
    for t in range(n_steps):
        writer.log_step(int(t), float(10 ** log_loss[t]), 1.0, config.lr)
    x = data["x_eval"][:, 0]
    target = config.target
    waves = np.stack([a * np.sin(2 * np.pi * f * x) for f, a in zip(target.freqs_hz, target.amps)])
    learned_at = np.array([0.1, 0.3, 0.6, 0.9]) * np.log10(n_steps)  # log-step where each sine is learned
    for t in [*range(0, n_steps, PRED_EVERY), n_steps]:
        weight = 1 / (1 + np.exp(-(np.log10(t + 1.0) - learned_at) * 20))
        writer.log_pred(int(t), (weight @ waves).astype(np.float32)[:, None])
    writer.checkpoint(n_steps, np.zeros(model_size(model)), None)
    writer.close()


def model_size(model) -> int:
    return sum(p.numel() for p in model.parameters())


def time_one(path: str, name: str) -> dict:
    """Child process: time one analysis, no cache, and report its own peak RSS."""
    import analyzer
    from analyzer.core import registry

    if name not in registry.names():
        return {"skipped": f"{name} not registered"}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    analyzer.analyze(path, name, use_cache=False)
    wall = time.perf_counter() - start
    # a second call shows the cost that grows with the run, without the one-off imports (scipy, ruptures)
    start = time.perf_counter()
    analyzer.analyze(path, name, use_cache=False)
    warm = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall_s": wall, "warm_s": warm, "peak_rss_mb": rss / 1024, "rss_before_mb": rss_before / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--child", nargs=2, metavar=("RUN", "ANALYSIS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_one(*args.child)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_steps in args.sizes:
            path = Path(tmp) / f"synthetic-{n_steps}.h5"
            write_synthetic_run(path, n_steps)
            for name in ("plateaus", "spectrum"):
                out = subprocess.run([sys.executable, __file__, "--child", str(path), name], env=env,
                                     capture_output=True, text=True, check=True)
                row = {"steps": n_steps, "analysis": name, **json.loads(out.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(json.dumps(row), flush=True)
    report(rows, args.sizes)


def report(rows: list[dict], sizes: list[int]) -> None:
    lo, hi = min(sizes), max(sizes)
    for name in ("plateaus", "spectrum"):
        timed = {r["steps"]: r for r in rows if r["analysis"] == name and "wall_s" in r}
        if lo in timed and hi in timed:
            ratio = timed[hi]["wall_s"] / timed[lo]["wall_s"]
            warm = timed[hi]["warm_s"] / timed[lo]["warm_s"]
            print(f"{name}: {hi}/{lo} steps ratio: first call {ratio:.2f}, warm call {warm:.2f} "
                  f"(size ratio {hi / lo:g})")
    total = {}
    for r in rows:
        if "wall_s" in r:
            total[r["steps"]] = total.get(r["steps"], 0.0) + r["wall_s"]
    for n_steps, wall in sorted(total.items()):
        peak = max(r["peak_rss_mb"] for r in rows if r["steps"] == n_steps and "peak_rss_mb" in r)
        print(f"{n_steps} steps: plateaus + spectrum {wall:.2f} s, peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
