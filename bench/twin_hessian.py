"""A linearised twin's Hessian at one checkpoint: the exact route (twin-gram: J_0, its Gram matrix, one eigh) vs the
HVP route it took before (the certified subspace run on autograd HVPs of the twin's loss, `--method lanczos`).

Each route computes the whole table row of `analyze hessian` (analyzer/analyses/hessian/compute.part, no point
store) in this one process on one torch thread, after a warm-up row of each; the routes alternate over the repeats
and each figure is the median. "exact, cold" builds its spectrum (J_0 included) in the call, as the first
checkpoint of a run does; "exact, shared" reuses it, as every later checkpoint does. CPU seconds are the process'
(time.process_time), less sensitive than wall seconds to other work on a shared machine.

    .venv/bin/train run --preset baseline --linearize --epochs 200 --out /tmp/baseline-s0-twin.h5
    OMP_NUM_THREADS=1 .venv/bin/python bench/twin_hessian.py --run /tmp/baseline-s0-twin.h5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed_row(run, params, step: int, twin=None) -> tuple[dict, float, float]:
    from analyzer.analyses.hessian.compute import part

    wall, cpu = time.perf_counter(), time.process_time()
    row, _ = part(run, params, (step, "step"), store=None, twin=twin)
    return row, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a twin's run file (`train run --linearize`)")
    parser.add_argument("--step", type=int, default=-1, help="checkpoint step (default: the last stored)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from analyzer.analyses.hessian import HessianParams
    from analyzer.curvature.twin import TwinHessian, twin_jacobian
    from analyzer.io.run import open_run
    from analyzer.linalg.gram import gram_spectrum

    torch.set_num_threads(1)
    with open_run(args.run) as run:
        if run.linearized is None:
            raise SystemExit(f"{args.run}: not a linearised twin")
        step = int(run.ckpt_steps[-1]) if args.step < 0 else args.step
        exact, hvp = HessianParams(steps=(step,)), HessianParams(steps=(step,), method="lanczos")
        shared = TwinHessian(run, exact.max_dense_gb)
        routes = {"exact, cold": (exact, lambda: None), "exact, shared": (exact, lambda: shared),
                  "HVP (lanczos)": (hvp, lambda: None)}
        print(f"{Path(args.run).name}: P = {run.n_params:,}, N o = {run.data('y_train').size:,}, step {step}, "
              f"torch threads 1, median of {args.repeats}")
        for params, twin in routes.values():  # warm-up: imports, torch.func's first calls
            timed_row(run, params, step, twin())
        times, rows = {name: [] for name in routes}, {}
        for _ in range(args.repeats):
            for name, (params, twin) in routes.items():
                row, wall, cpu = timed_row(run, params, step, twin())
                times[name].append((wall, cpu))
                rows[name] = row
        for name, row in rows.items():
            wall, cpu = (statistics.median(t[i] for t in times[name]) for i in (0, 1))
            print(f"  {name:14s} {wall:7.2f} s wall {cpu:7.2f} s CPU  method {row['method']:10s} HVPs "
                  f"{row['n_hvp']:6d}  lambda_max {row['lambda_max']:.12g}  trace {row['trace']:.12g}  index "
                  f"{row['index_count']:g} ({row['index_kind']})  null {row['null_multiplicity']}")
        started = time.perf_counter()
        jacobian, c = twin_jacobian(run, exact.max_dense_gb)
        jacobian_s = time.perf_counter() - started
        spectrum_s = gram_spectrum(jacobian, c).seconds
    print(f"  the exact spectrum alone: J_0 {jacobian_s:.2f} s, Gram matrix and eigvalsh {spectrum_s:.2f} s (wall)")
    ours, theirs = rows["exact, cold"], rows["HVP (lanczos)"]
    print(f"  |lambda_max difference| / lambda_max = {abs(ours['lambda_max'] - theirs['lambda_max']) / ours['lambda_max']:.2g}"
          f", |trace difference| / trace = {abs(ours['trace'] - theirs['trace']) / ours['trace']:.2g}"
          f"; the exact spectrum: side {shared.spectrum.side}, certified error {shared.spectrum.error:.2g}, "
          f"{shared.spectrum.clipped} rounding negatives clipped (min {shared.spectrum.clipped_min:.2g})")


if __name__ == "__main__":
    main()
