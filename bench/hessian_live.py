"""The certified Hessian spectrum on the full network vs its live block with hand-written products.

For each checkpoint: the parameter count and the live one, the time of one Hessian-vector product (autograd's
reverse-over-reverse on the full network, on the live block, and the hand-written R-operator on the live
block), and the whole certified subspace run on the full network with autograd (the code before) vs the live
block with hand-written products (what `analyze hessian` does now), with both indices, which must agree.

    OMP_NUM_THREADS=1 .venv/bin/python bench/hessian_live.py                         # deep-s0 of `make demo`
    OMP_NUM_THREADS=1 .venv/bin/python bench/hessian_live.py --run data/runs/baseline-s0.h5 --steps 10,50
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def per_product_ms(op, n: int, repeats: int = 200) -> float:
    import torch

    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    op.apply(v)
    started = time.perf_counter()
    for _ in range(repeats):
        op.apply(v)
    return (time.perf_counter() - started) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="data/runs/deep-s0.h5", help="a run file (default: deep-s0 of make demo)")
    parser.add_argument("--steps", default="", help="checkpoint steps, comma-separated (default: the "
                        "checkpoints `analyze hessian` picks, its plateau edges and middles)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from analyzer.curvature.live import live_subnetwork
    from analyzer.io.model import loss_closure
    from analyzer.io.run import open_run
    from analyzer.linalg.operators.hessian import HessianOperator
    from analyzer.linalg.subspace import subspace_run

    torch.set_num_threads(1)
    run = open_run(args.run)
    if args.steps:
        steps = [int(s) for s in args.steps.split(",")]
    else:
        from analyzer.analyses.hessian.compute import plan
        from analyzer.core.runner import resolver_for

        resolver, params = resolver_for(run, "hessian")
        steps = [step for step, _ in plan(run, params, resolver.deps_for("hessian"))[0]]
    loss_fn = loss_closure(run)
    print(f"{Path(args.run).name}: {run.n_params} parameters, checkpoints {steps}, torch threads 1")
    print("| step | P | live P | dead units | HVP full autograd (ms) | live autograd | live by hand | "
          "subspace full autograd (s) | live by hand (s) | speed-up | index full / live |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    total_before = total_after = 0.0
    for step in steps:
        theta = torch.from_numpy(np.asarray(run.params_at(step))).double()
        live = live_subnetwork(run, theta)
        full_op = HessianOperator(loss_fn, theta)
        hvp_full = per_product_ms(full_op, full_op.n)
        hvp_live_autograd = per_product_ms(HessianOperator(live.loss_fn, live.theta), live.n)
        hvp_live_hand = per_product_ms(live.operator(), live.n)
        started = time.perf_counter()
        before = subspace_run(HessianOperator(loss_fn, theta), 5000)
        seconds_before = time.perf_counter() - started
        started = time.perf_counter()
        after = subspace_run(live.operator(), 5000)
        seconds_after = time.perf_counter() - started
        index = [int(np.sum(s.ritz < -1e-6 * s.scale)) for s in (before, after)]
        total_before, total_after = total_before + seconds_before, total_after + seconds_after
        print(f"| {step} | {run.n_params} | {live.n} | {list(live.dead_units)} | {hvp_full:.2f} | "
              f"{hvp_live_autograd:.2f} | {hvp_live_hand:.2f} | {seconds_before:.1f} | {seconds_after:.1f} | "
              f"{seconds_before / seconds_after:.2f}x | {index[0]} / {index[1]} |")
    print(f"all checkpoints: {total_before:.1f} s -> {total_after:.1f} s = {total_before / total_after:.2f}x")


if __name__ == "__main__":
    main()
