"""The expected-HVP model of the plan (curvature/cost.py `expected_hvps`) against the certified run's HVPs.

For each run and Hessian checkpoint (plateaus by default; --per-decade N for the study's grid): the live parameters
(live.py), the linear regions the products run on, the HVPs the certified subspace run used (its own count, plus
the checkpoint's other HVPs as `analyze hessian` counts them when --full), the model's expected count, and the
probe's time per HVP (curvature/hvp_timing.py) beside the run's measured time per HVP. One thread.

    .venv/bin/python bench/plan_calibration.py data/runs/{baseline,wide,deep,sgd}-s0.h5
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--per-decade", type=int, default=0, help="grid checkpoints instead of the plateaus'")
    parser.add_argument("--max-points", type=int, default=3, help="checkpoints per run (spread over the selection)")
    args = parser.parse_args()

    import torch

    from analyzer.analyses.hessian.checkpoints import select_checkpoints
    from analyzer.analyses.hessian.params import HessianParams
    from analyzer.core.runner import analyze
    from analyzer.curvature.cost import expected_hvps, relu_hidden_layers
    from analyzer.curvature.hvp_timing import probe_hvp
    from analyzer.curvature.live import live_subnetwork
    from analyzer.io.run import open_run
    from analyzer.linalg.subspace import subspace_run
    from trainer.engines.loop import one_thread

    params = HessianParams(at="grid", per_decade=args.per_decade) if args.per_decade else HessianParams()
    print("| run | step | P | live P | dead units | region points | HVPs (subspace) | expected | ratio | "
          "probe ms | run ms/HVP | subspace s |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in args.runs:
        run = open_run(path)
        points, _ = select_checkpoints(run, params, lambda: analyze(run, "plateaus", use_cache=False))
        chosen = [points[i] for i in np.unique(np.linspace(0, len(points) - 1, args.max_points).round().astype(int))]
        for step, _role in chosen:
            probe = probe_hvp(run, step)
            with one_thread():
                theta = torch.from_numpy(np.asarray(run.params_at(step))).to(torch.float64)
                live = live_subnetwork(run, theta)
                op = live.operator()
                started = time.perf_counter()
                sub = subspace_run(op, params.krylov_steps, seed=params.seed)
                seconds = time.perf_counter() - started
            expected = expected_hvps(params.krylov_steps, int(run.n_params), live.n, relu_hidden_layers(run))
            print(f"| {run.path.stem} | {step} | {int(run.n_params):,} | {live.n:,} | {list(live.dead_units)} | "
                  f"{op.n_samples} | {sub.n_hvp:,} | {expected:,.0f} | {sub.n_hvp / expected:.2f} | "
                  f"{1e3 * probe.seconds:.2f} | {1e3 * seconds / sub.n_hvp:.2f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
