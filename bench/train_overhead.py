"""Logging overhead of the trainer vs a plain PyTorch loop, run-file sizes, and what compression buys.

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/train_overhead.py [--epochs 10000] [--repeats 3]
Prints the ratio (trainer with full dense logging) / (plain loop, no logging) for the same preset and
seed, interleaving the two so machine load affects both alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch

from trainer.config import DEFAULT_STUDY, PRESETS
from trainer.engines.loop import TORCH_DTYPES, initial_model, make_optimizer, train
from trainer.targets import make_data


def plain_loop(config) -> float:
    """The same full-batch training with no logging at all; returns seconds."""
    model = initial_model(config)  # the seeded init (and perturbation, if any), as the trainer starts
    data = make_data(config.target)
    x, y = (torch.from_numpy(data[k]).to(TORCH_DTYPES[config.dtype]) for k in ("x_train", "y_train"))
    optimizer = make_optimizer(config, model)
    start = time.perf_counter()
    for _ in range(config.epochs):
        optimizer.zero_grad(set_to_none=True)
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def logged_loop(config, out: Path) -> float:
    start = time.perf_counter()
    train(config, out, overwrite=True)
    return time.perf_counter() - start


def overhead(preset: str, epochs: int, repeats: int, folder: Path) -> None:
    config = dataclasses.replace(PRESETS[preset], epochs=epochs)
    plain_loop(dataclasses.replace(config, epochs=200))  # warm-up
    plain, logged = [], []
    for _ in range(repeats):
        plain.append(plain_loop(config))
        logged.append(logged_loop(config, folder / f"{preset}.h5"))
    ratio = statistics.median(logged) / statistics.median(plain)
    size_mb = (folder / f"{preset}.h5").stat().st_size / 1e6
    print(f"{preset:9s} plain {statistics.median(plain):6.2f} s  logged {statistics.median(logged):6.2f} s  "
          f"ratio {ratio:5.3f}  file {size_mb:6.1f} MB")


def compression(epochs: int, folder: Path) -> None:
    """Predictions dominate the file: compare none / lzf / gzip-1 (with shuffle) on the baseline."""
    import trainer.engines.loop as loop

    config = dataclasses.replace(PRESETS["baseline"], epochs=epochs)
    original = loop.run_meta
    for name in (None, "lzf", "gzip"):
        loop.run_meta = lambda *a, _n=name: dataclasses.replace(original(*a), pred_compression=_n)
        seconds = logged_loop(config, folder / "c.h5")
        print(f"pred compression {str(name):5s}: {seconds:6.2f} s  file {(folder / 'c.h5').stat().st_size / 1e6:6.1f} MB")
    loop.run_meta = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", default=",".join(DEFAULT_STUDY))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.epochs} epochs, "
          f"median of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            overhead(preset, args.epochs, args.repeats, Path(tmp))
        compression(args.epochs, Path(tmp))


if __name__ == "__main__":
    main()
