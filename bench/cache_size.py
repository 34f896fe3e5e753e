"""Size of the sidecar cache next to its run, and a first vs a second `analyze report` (cache cold, then warm).

Usage (from the repo root): OMP_NUM_THREADS=1 python bench/cache_size.py [--run RUN.h5] [--preset baseline]
                            [--epochs 3000] [--no-hessian]
Without --run it trains the preset once into data/bench/ (reused by later calls). The run's sidecar cache is
deleted first; each report runs in a fresh process (`python -m analyzer.cli report`), so the second one
measures what the cache saves. Prints run size, cache size, their ratio, and both report times.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def training_run(preset: str, epochs: int) -> Path:
    """The preset's run file in data/bench/, trained here unless it is already there."""
    from trainer.config import PRESETS
    from trainer.engines.loop import train

    path = REPO / "data" / "bench" / f"cache-{preset}-{epochs}.h5"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"training {preset} for {epochs} epochs into {path} ...", flush=True)
        train(dataclasses.replace(PRESETS[preset], epochs=epochs), path)
    return path


def timed_report(run: Path, out: Path, hessian: bool) -> float:
    command = [sys.executable, "-m", "analyzer.cli", "report", str(run), "-o", str(out), "--overwrite"]
    command += [] if hessian else ["--no-hessian"]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="an existing run file (default: train --preset)")
    parser.add_argument("--preset", default="baseline")
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--no-hessian", dest="hessian", action="store_false", help="report without the Hessian")
    args = parser.parse_args()

    from analyzer.core.cache import default_cache_path

    run = args.run if args.run is not None else training_run(args.preset, args.epochs)
    cache = default_cache_path(run)
    cache.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        first = timed_report(run, Path(folder) / "report", args.hessian)
        cache_mb = cache.stat().st_size / 1e6
        second = timed_report(run, Path(folder) / "report", args.hessian)
    run_mb = run.stat().st_size / 1e6
    print(f"run {run.name}: {run_mb:.2f} MB; cache {cache.name}: {cache_mb:.3f} MB; "
          f"cache / run {cache_mb / run_mb:.1%}")
    print(f"analyze report: first (cold cache) {first:.2f} s, second (warm cache) {second:.2f} s, "
          f"second / first {second / first:.2f}")


if __name__ == "__main__":
    main()
