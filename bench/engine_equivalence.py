"""How far the fused engine and batched ensembles are from the torch engine, over whole runs.

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/engine_equivalence.py [--epochs 10000] [--members 2]
For every preset and dtype, trains the torch engine (autograd + torch.optim), the fused engine and a
batched ensemble of `--members` seeds (compared member by member with the torch engine on that seed)
and prints the max relative difference of the loss curve and the gradient norms (step by step) and
of the final parameters (relative to the largest parameter). 0 means bit for bit. The last column is
the batched step with every layer in batched matmuls (what a GPU runs): it shows what a last-bit
difference grows into over a run.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from trainer.engines.batched import BatchedMLP
from trainer.config import DEFAULT_STUDY, PRESETS, TrainConfig
from trainer.engines.engine import TorchEngine
from trainer.engines.fused import FusedMLP
from trainer.engines.loop import initial_model, training_set
from trainer.targets import make_data


def trajectory(engine, epochs: int) -> dict[str, np.ndarray]:
    """Per-step losses and gradient norms (one column per member) and the final flat parameters."""
    losses, norms = [], []
    for _ in range(epochs):
        loss, norm, _ = engine.evaluate()
        losses.append(np.atleast_1d(loss))
        norms.append(np.atleast_1d(norm))
        engine.update()
    params = engine.flat_params().cpu().numpy()
    return {"loss": np.array(losses), "grad_norm": np.array(norms), "params": np.atleast_2d(params).T}


def max_relative(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Loss and gradient norm: the largest step-wise relative difference; parameters: max |a - b| / max |b|."""
    tiny = np.finfo(np.float64).tiny
    return {k: float(np.max(np.abs(a[k] - b[k]) / np.maximum(np.abs(b[k]) if k != "params"
                                                                else np.max(np.abs(b[k]), axis=0), tiny)))
            for k in a}


def compare(config: TrainConfig, members: int) -> tuple[dict[str, float], ...]:
    x, y = training_set(config, make_data(config.target))
    configs = [dataclasses.replace(config, seed=seed) for seed in range(members)]
    torch_runs = [trajectory(TorchEngine(c, initial_model(c), x, y), c.epochs) for c in configs]
    fused = trajectory(FusedMLP(config, initial_model(config), x, y), config.epochs)
    batched = trajectory(BatchedMLP(configs, [initial_model(c) for c in configs], x, y), config.epochs)
    all_bmm = BatchedMLP(configs, [initial_model(c) for c in configs], x, y)
    all_bmm.exact = False
    all_bmm = trajectory(all_bmm, config.epochs)
    stacked = {k: np.concatenate([run[k] for run in torch_runs], axis=1) for k in batched}
    return max_relative(fused, torch_runs[0]), max_relative(batched, stacked), max_relative(all_bmm, stacked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument("--presets", default=",".join(DEFAULT_STUDY))
    args = parser.parse_args()
    print(f"{args.epochs} steps; max relative difference to the torch engine (loss curve, grad norms, final params)")
    for preset in args.presets.split(","):
        for dtype in ("float32", "float64"):
            config = dataclasses.replace(PRESETS[preset], epochs=args.epochs, dtype=dtype)
            fused, batched, all_bmm = compare(config, args.members)
            show = lambda d: " ".join(f"{k} {v:.1e}" for k, v in d.items())  # noqa: E731
            print(f"{preset:9s} {dtype}  fused: {show(fused)} | batched x{args.members}: {show(batched)} | "
                  f"all-bmm: {show(all_bmm)}", flush=True)


if __name__ == "__main__":
    main()
