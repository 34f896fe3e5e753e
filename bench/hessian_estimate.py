"""SLQ index estimate vs the certified subspace run on a ReLU MLP of the F-Principle's shape: time, and the
estimate's error bar against the dense float64 eigenvalues (P HVPs + numpy.linalg.eigvalsh).

    OMP_NUM_THREADS=1 .venv/bin/python bench/hessian_estimate.py --widths 50,100,50 --seeds 3

Prints, per checkpoint (init and after Adam steps): the dense fraction of eigenvalues below -tol x max|eig|,
the SLQ estimate with its bar for each seed (and whether the bar holds the dense value), the certified run's
index (or its bracket when the cap is reached), the seconds of each and their ratio.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from analyzer.curvature.eigen import hessian_eigenpairs
from analyzer.linalg.operators.hessian import HessianOperator
from analyzer.linalg.slq import spectral_density
from analyzer.linalg.solvers import dense_hessian


def mlp_problem(widths: list[int], n_train: int, adam_steps: int, seed: int = 0):
    """The loss closure of a 1-...-1 ReLU MLP on sin(x) + sin(3x) + sin(5x) over [-pi, pi], and two points:
    its initialisation and after `adam_steps` full-batch Adam steps."""
    torch.manual_seed(seed)
    sizes = [1, *widths, 1]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b, dtype=torch.float64), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    x = torch.linspace(-math.pi, math.pi, n_train, dtype=torch.float64).reshape(-1, 1)
    y = torch.sin(x) + torch.sin(3 * x) + torch.sin(5 * x)
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def loss_fn(theta):
        chunks = torch.split(theta, [int(np.prod(s)) for s in shapes])
        params = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes)}
        return torch.mean((torch.func.functional_call(model, params, (x,)) - y) ** 2)

    flat = lambda: torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()  # noqa: E731
    points = {"init": flat()}
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    for _ in range(adam_steps):
        loss = torch.mean((model(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    points[f"adam {adam_steps}"] = flat()
    return loss_fn, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="50,100,50")
    parser.add_argument("--n-train", type=int, default=401)
    parser.add_argument("--adam-steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--probes", type=int, default=16)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rel-tol", type=float, default=1e-3)
    parser.add_argument("--cap", type=int, default=5000, help="krylov_steps of the certified run (0: skip it)")
    args = parser.parse_args()
    loss_fn, points = mlp_problem([int(w) for w in args.widths.split(",")], args.n_train, args.adam_steps)
    for label, theta in points.items():
        op = HessianOperator(loss_fn, theta)
        started = time.perf_counter()
        exact = np.linalg.eigvalsh(dense_hessian(op).numpy())
        dense_s = time.perf_counter() - started
        threshold = -args.rel_tol * np.abs(exact).max()
        truth = float(np.mean(exact < threshold))
        print(f"[{label}] P = {op.n:,}: dense {dense_s:.1f} s, fraction below -{args.rel_tol:g} max|eig| = "
              f"{truth:.5f} ({int(np.sum(exact < threshold)):,} eigenvalues; below -1e-6: "
              f"{int(np.sum(exact < -1e-6 * np.abs(exact).max())):,})")
        slq_s = []
        for seed in range(args.seeds):
            started = time.perf_counter()
            density = spectral_density(HessianOperator(loss_fn, theta), args.probes, args.steps, seed=seed)
            found = density.fraction_below(-args.rel_tol * density.scale)
            slq_s.append(time.perf_counter() - started)
            print(f"  SLQ seed {seed}: {found.estimate:.5f} [{found.low:.5f}, {found.high:.5f}] "
                  f"{'holds' if found.low <= truth <= found.high else 'MISSES'} the dense value; "
                  f"{density.n_hvp:,} HVPs, {slq_s[-1]:.1f} s")
        if args.cap:
            certified_op = HessianOperator(loss_fn, theta)
            started = time.perf_counter()
            pairs = hessian_eigenpairs(loss_fn, theta, "lanczos", 10, op=certified_op, krylov_steps=args.cap)
            certified_s = time.perf_counter() - started
            subspace = pairs.subspace
            state = "certified" if subspace.certified else f"not certified (cap {args.cap:,} reached)"
            print(f"  certified run: {state}, dimension {subspace.dim:,}, {certified_op.n_products:,} HVPs, "
                  f"{certified_s:.1f} s; SLQ median {np.median(slq_s):.1f} s: ratio "
                  f"{certified_s / np.median(slq_s):.1f}x")


if __name__ == "__main__":
    main()
