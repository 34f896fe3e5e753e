"""Benchmark: the NTK at one checkpoint and the kernel-drift curve over every checkpoint, against naive baselines.

    OMP_NUM_THREADS=1 python bench/ntk_speed.py data/runs/baseline-s0.h5 [--naive-checkpoints 10]

One thread throughout. Fast paths are what `analyze ntk` runs (analyzer/io/ntk_net.py): K from the layer
signals (one forward + one backward pass, then a Hadamard product of N x N Gram matrices per layer) and
LAPACK's divide-and-conquer eigh. The naive baseline builds J row by row with autograd (N backward passes),
then J J^T and numpy.linalg.eigh; for the drift curve it does that at `--naive-checkpoints` checkpoints and
extrapolates linearly to all of them (said in the output). Each row prints the ratio naive / fast measured
in the same process, and the largest difference between the two answers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages, not an installed copy

from analyzer.analyses.ntk.dynamics import checkpoint_net  # noqa: E402
from analyzer.io.ntk_net import kernel, kernel_eigen  # noqa: E402
from analyzer.io.run import open_run  # noqa: E402


def naive_jacobian(net, theta: np.ndarray) -> np.ndarray:
    frozen, trained = net.split(theta)
    rows = []
    for n in range(net.x.shape[0]):
        weights = trained.clone().requires_grad_(True)
        output = net.outputs(frozen, weights, net.x[n:n + 1]).sum()
        rows.append(torch.autograd.grad(output, weights)[0].numpy())
    return np.asarray(rows)


def naive_kernel(net, theta: np.ndarray) -> np.ndarray:
    jac = naive_jacobian(net, theta)
    return jac @ jac.T


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--naive-checkpoints", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open_run(args.run) as run:
        net, step = checkpoint_net(run, None)
        theta = np.asarray(run.params_at(step), np.float64)
        steps = run.ckpt_steps
        print(f"{args.run}: N o = {net.n_rows:,}, P' = {net.n_trained:,}, {len(steps):,} checkpoints\n")
        kernel_eigen(net, theta)  # warm-up (imports, allocator)
        fast, fast_s = timed(kernel_eigen, net, theta)
        naive_k, naive_k_s = timed(naive_kernel, net, theta)
        (naive_values, _), naive_e_s = timed(np.linalg.eigh, naive_k)
        naive_s = naive_k_s + naive_e_s
        error = np.abs(np.sort(naive_values)[::-1] - fast.top).max() / fast.top[0]
        print("| task | fast (s) | naive (s) | naive / fast | agreement |\n|---|---:|---:|---:|---:|")
        print(f"| all {net.n_rows:,} eigenpairs of K at step {step} | {fast_s:.3f} | {naive_s:.3f} "
              f"(J {naive_k_s:.2f} + eigh {naive_e_s:.2f}) | {naive_s / fast_s:.1f}x | "
              f"max |dlambda| / lambda_max {error:.1e} |")
        reference = kernel(net, theta)
        scale = np.linalg.norm(reference)
        start = time.perf_counter()
        drift = [np.linalg.norm(kernel(net, run.params_at(int(s))) - reference) / scale for s in steps]
        drift_s = time.perf_counter() - start
        picked = np.linspace(0, len(steps) - 1, args.naive_checkpoints).round().astype(int)
        naive_reference = naive_kernel(net, theta)
        start = time.perf_counter()
        naive_drift = [np.linalg.norm(naive_kernel(net, run.params_at(int(steps[i]))) - naive_reference)
                       / np.linalg.norm(naive_reference) for i in picked]
        per_checkpoint = (time.perf_counter() - start) / len(picked)
        naive_total = per_checkpoint * len(steps)
        agreement = np.abs(np.asarray(naive_drift) - np.asarray(drift)[picked]).max()
        print(f"| exact kernel drift at all {len(steps):,} checkpoints | {drift_s:.1f} | {naive_total:.0f} "
              f"(extrapolated from {len(picked)}) | {naive_total / drift_s:.1f}x | max |d drift| {agreement:.1e} |")


if __name__ == "__main__":
    main()
