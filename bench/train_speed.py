"""Training speed: plain PyTorch loop vs the fused step vs the full trainer, the default study, ensembles.

Usage (from the repository root):
    OMP_NUM_THREADS=1 .venv/bin/python bench/train_speed.py [--steps 2000] [--repeats 3] [--study-epochs 10000]
    .venv/bin/python bench/train_speed.py --device cuda        # GPU: plain loop vs batched ensembles only
Prints the single-core sgemm rate, matmul FLOPs per step and the arithmetic limit per preset, then
us/step for each way of training and the ratios, all measured in the same run and interleaved so
that machine load affects every column alike (medians of the repeats).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from trainer.engines.batched import BatchedMLP
from trainer.config import DEFAULT_STUDY, PRESETS, TrainConfig
from trainer.engines.engine import TorchEngine
from trainer.engines.fused import FusedMLP
from trainer.engines.loop import initial_model, train, training_set
from trainer.targets import make_data


def sgemm_gflops(size: int = 1024, repeats: int = 7, rows: int | None = None) -> float:
    """Best single-precision matmul rate (threads as OMP_NUM_THREADS says): (rows x size) @ (size x size)."""
    rows = rows or size
    a, b = torch.randn(rows, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_seconds(lambda: [torch.mm(a, b) for _ in range(10)]) / 10 for _ in range(repeats))
    return 2 * rows * size**2 / best / 1e9


def matmul_flops(config: TrainConfig) -> int:
    """Matmul FLOPs of one full-batch step: forward, weight gradient, and input gradient past layer 0."""
    m, n = config.model, config.target.n_train
    dims = [m.in_dim] + [m.width] * m.depth + [m.out_dim]
    return sum((2 if layer == 0 else 3) * 2 * n * fan_in * fan_out
               for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:])))


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step_seconds(engine, steps: int, device: str = "cpu") -> float:
    """Seconds per evaluate + update (no logging) after a short warm-up."""
    for _ in range(20):
        engine.evaluate()
        engine.update()
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        engine.evaluate()
        engine.update()
    _synchronize(device)
    return (time.perf_counter() - start) / steps


def plain_step(config: TrainConfig, steps: int) -> float:
    """The plain PyTorch loop (zero_grad, forward, MSE, backward, optimizer step): no logging at all."""
    model = initial_model(config)
    x, y = training_set(config, make_data(config.target))
    optimizer = TorchEngine(config, model, x, y).optimizer

    def loop() -> None:
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            torch.mean((model(x) - y) ** 2).backward()
            optimizer.step()
        _synchronize(config.device)

    loop()  # warm-up with the same step count keeps the comparison to fused fair
    return _seconds(loop) / steps


def fused_step(config: TrainConfig, steps: int) -> float:
    return step_seconds(FusedMLP(config, initial_model(config), *training_set(config, make_data(config.target))), steps)


def trainer_step(config: TrainConfig, steps: int, folder: Path) -> float:
    """The whole trainer: fused engine, dense logging, checkpoints, run file written and closed."""
    config = dataclasses.replace(config, epochs=steps)
    return _seconds(lambda: train(config, folder / f"{config.preset}.h5", overwrite=True)) / steps


def batched_step(config: TrainConfig, runs: int, steps: int, exact: bool) -> float:
    """Seconds per member-step of R members trained as one batch."""
    configs = [dataclasses.replace(config, seed=seed) for seed in range(runs)]
    engine = BatchedMLP(configs, [initial_model(c) for c in configs], *training_set(config, make_data(config.target)))
    engine.exact = exact
    return step_seconds(engine, steps, config.device) / runs


def per_preset(args, folder: Path) -> None:
    """us/step of each way of training; the arithmetic limit uses the sgemm rate measured alongside."""
    print(f"\n{'preset':9s} {'MFLOP':>6s} {'GFLOP/s':>7s} {'limit':>6s} {'plain':>7s} {'fused':>7s} {'trainer':>8s}  "
          f"{'fused/plain':>11s} {'trainer/plain':>13s} {'fused/limit':>11s}   (us/step, median of {args.repeats})")
    for preset in args.presets.split(","):
        config = PRESETS[preset]
        times: dict[str, list[float]] = {"plain": [], "fused": [], "trainer": []}
        rates = []
        for _ in range(args.repeats):
            rates.append(sgemm_gflops(repeats=3))
            times["plain"].append(plain_step(config, args.steps))
            times["fused"].append(fused_step(config, args.steps))
            times["trainer"].append(trainer_step(config, args.steps, folder))
        us = {k: statistics.median(v) * 1e6 for k, v in times.items()}
        gflops = statistics.median(rates)
        limit_us = matmul_flops(config) / (gflops * 1e3)
        print(f"{preset:9s} {matmul_flops(config) / 1e6:6.1f} {gflops:7.1f} {limit_us:6.0f} "
              f"{us['plain']:7.0f} {us['fused']:7.0f} {us['trainer']:8.0f}  {us['fused'] / us['plain']:11.3f} "
              f"{us['trainer'] / us['plain']:13.3f} {us['fused'] / limit_us:11.2f}")


def _train_preset(preset: str, epochs: int, folder: str) -> None:
    torch.set_num_threads(1)
    train(dataclasses.replace(PRESETS[preset], epochs=epochs), Path(folder) / f"{preset}.h5", overwrite=True)


def default_study(args, folder: Path) -> None:
    """`train` (4 presets, run files) vs the 4 plain loops one after another; optionally on N processes."""
    presets = list(DEFAULT_STUDY)
    plain, study, parallel, command = [], [], [], []
    for repeat in range(args.repeats):
        plain.append(sum(plain_step(dataclasses.replace(PRESETS[p], epochs=args.study_epochs), args.study_epochs)
                         * args.study_epochs for p in presets))
        study.append(_seconds(lambda: [_train_preset(p, args.study_epochs, str(folder)) for p in presets]))
        if args.parallel > 1:
            with ProcessPoolExecutor(args.parallel) as pool:
                parallel.append(_seconds(lambda: list(pool.map(_train_preset, presets, [args.study_epochs] * 4,
                                                                [str(folder)] * 4))))
        if args.command:  # the real `train` (no command): a subprocess, a local Dask cluster, run files
            out = folder / f"train-command-{repeat}"
            command.append(_seconds(lambda: subprocess.run(
                [sys.executable, "-m", "trainer.cli", "--out-dir", str(out), "--epochs", str(args.study_epochs)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    base = statistics.median(plain)
    print(f"\ndefault study, {args.study_epochs} epochs, median of {args.repeats}: 4 plain loops in sequence "
          f"{base:.1f} s; `train` (run files, fused) in sequence {statistics.median(study):.1f} s = "
          f"{statistics.median(study) / base:.2f}x", end="")
    if parallel:
        print(f"; on {args.parallel} processes {statistics.median(parallel):.1f} s = "
              f"{statistics.median(parallel) / base:.2f}x", end="")
    if command:
        print(f"; the `train` command (Dask, one worker per core, start-up included) {statistics.median(command):.1f} s = "
              f"{statistics.median(command) / base:.2f}x", end="")
    print()


def ensembles(args, device: str) -> None:
    """Per member-step time of batched ensembles vs single runs (fused on CPU, torch engine on a GPU)."""
    config = dataclasses.replace(PRESETS[args.ensemble_preset], device=device)
    single_name = "plain" if device != "cpu" else "fused"
    for runs in [int(r) for r in args.ensemble_sizes.split(",")]:
        singles, exact, fast = [], [], []
        for _ in range(args.repeats):
            singles.append(plain_step(config, args.steps) if device != "cpu" else fused_step(config, args.steps))
            if device == "cpu":
                exact.append(batched_step(config, runs, max(args.steps // runs, 20), exact=True))
            fast.append(batched_step(config, runs, max(args.steps // runs, 20), exact=False))
        single_us = statistics.median(singles) * 1e6
        line = f"ensemble {config.preset} R={runs:3d} on {device}: single {single_name} {single_us:6.0f} us/step"
        if exact:
            us = statistics.median(exact) * 1e6
            line += f"; batched, bitwise {us:6.0f} us per member-step ({us / single_us:.2f}x)"
        us = statistics.median(fast) * 1e6
        line += f"; batched, all bmm {us:6.0f} us per member-step ({us / single_us:.2f}x)"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", default=",".join(DEFAULT_STUDY))
    parser.add_argument("--study-epochs", type=int, default=10_000, help="0 skips the default study")
    parser.add_argument("--parallel", type=int, default=0, help="also time the study on N processes")
    parser.add_argument("--command", action="store_true", help="also time the real `train` command (default study)")
    parser.add_argument("--ensemble-preset", default="baseline")
    parser.add_argument("--ensemble-sizes", default="8,32")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda: plain loop vs batched ensembles only")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), device {args.device}, "
          f"{args.steps} steps per timing")
    if args.device == "cpu":
        print("sgemm GFLOP/s at start, best of 7: 1024^3 " + f"{sgemm_gflops():.1f}; the step's shapes " + ", ".join(
            f"{1000}x{w}x{w} {sgemm_gflops(w, rows=1000):.1f}" for w in (50, 100)))
    if args.device == "cpu":
        with tempfile.TemporaryDirectory() as tmp:
            per_preset(args, Path(tmp))
            if args.study_epochs:
                default_study(args, Path(tmp))
    ensembles(args, args.device)


if __name__ == "__main__":
    main()
