"""Cost of a linearised twin (`train run --linearize`) against its network, for the four Alvarez & Choe presets.

Usage (from the repo root): OMP_NUM_THREADS=1 python bench/twin_cost.py [--epochs 400] [--repeats 3]
Per preset, in this one process and interleaved (so the machine's load hits all alike): the network with the
default engine (auto: the fused step), the network with the torch engine (autograd + torch.optim, what the twin's
step is built like), and its twin (a jvp and a vjp per step). Each time is the median over the repeats of the
whole `train` call (file creation and the twin's one-time vjp graph included); a short twin run first pays
torch.func's one-time warm-up. Prints ms per step and the ratios twin / network.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PRESETS = ("baseline", "wide", "deep", "sgd")
VARIANTS = ("network (auto)", "network (torch)", "twin")


def timed_train(config, engine: str, out: Path) -> float:
    from trainer.engines.loop import train

    start = time.perf_counter()
    train(config, out, overwrite=True, engine=engine)
    return time.perf_counter() - start


def measure(preset: str, epochs: int, repeats: int, folder: Path) -> dict[str, float]:
    """Median seconds of each variant's `train` call."""
    from trainer.config import get_preset

    network = dataclasses.replace(get_preset(preset), epochs=epochs)
    runs = {"network (auto)": (network, "auto"), "network (torch)": (network, "torch"),
            "twin": (dataclasses.replace(network, linearize=True), "auto")}
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(repeats):
        for name, (config, engine) in runs.items():
            seconds[name].append(timed_train(config, engine, folder / "run.h5"))
    return {name: statistics.median(values) for name, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from trainer.config import get_preset

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed_train(dataclasses.replace(get_preset("baseline"), epochs=5, linearize=True), "auto", folder / "warm.h5")
        print(f"{args.epochs} epochs, median of {args.repeats}; ms per step (whole train call / epochs)")
        print(f"{'preset':<9}" + "".join(f"{name:>17}" for name in VARIANTS) + f"{'twin/auto':>11}{'twin/torch':>11}")
        for preset in PRESETS:
            median = measure(preset, args.epochs, args.repeats, folder)
            per_step = [1e3 * median[name] / args.epochs for name in VARIANTS]
            print(f"{preset:<9}" + "".join(f"{ms:>17.3f}" for ms in per_step)
                  + f"{median['twin'] / median['network (auto)']:>11.2f}"
                  + f"{median['twin'] / median['network (torch)']:>11.2f}", flush=True)


if __name__ == "__main__":
    main()
