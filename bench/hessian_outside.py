"""`analyze hessian` on an outside model: a tanh MLP with LayerNorm on a 12-D input, ~20,000
parameters, logged through RunWriter.for_model; the certified route's time and result against what `auto` picks
under --certify-budget-s, and the trace of each (exact from every eigenvalue, or the labelled estimate).

    OMP_NUM_THREADS=1 .venv/bin/python bench/hessian_outside.py --width 135 --routes auto,certified

Prints one row per (route, checkpoint): planned certified seconds (cost.py), wall seconds, HVPs, index kind and
text, trace kind, trace +- SE, and the index / trace notes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # byo_models: the outside model

from byo_models import EncodedMLP  # noqa: E402

from analyzer import analyze, open_run  # noqa: E402
from analyzer.analyses.hessian import HessianParams  # noqa: E402
from analyzer.curvature.cost import certified_seconds, hvp_seconds  # noqa: E402
from analyzer.curvature.index_status import index_text, trace_text  # noqa: E402
from trainer import RunWriter  # noqa: E402


def encoded_run(path: Path, width: int, n_train: int, steps: int, activation: str, layer_norm: bool) -> Path:
    """Adam on ten equal-amplitude sines of x in [0, 1), the model fed a 12-D sin/cos encoding of x."""
    torch.manual_seed(0)
    x = torch.arange(n_train, dtype=torch.float64)[:, None] / n_train
    freqs = torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0, 32.0], dtype=torch.float64)
    encoded = torch.cat([torch.sin(2 * torch.pi * x * freqs), torch.cos(2 * torch.pi * x * freqs)], dim=1)
    y = sum(torch.sin(2 * torch.pi * k * x) for k in range(5, 55, 5)) / 10
    kwargs = {"in_dim": 12, "width": width, "depth": 2, "activation": activation, "layer_norm": layer_norm}
    model = EncodedMLP(**kwargs).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with RunWriter.for_model(path, model, encoded, y, constructor="byo_models:EncodedMLP", constructor_kwargs=kwargs,
                             coords=x, commit_every_s=0.0) as run:
        for step in range(steps + 1):
            if step in (0, steps):
                run.checkpoint(step, model)
            if step == steps:
                break
            loss = torch.mean((model(encoded) - y) ** 2)
            optimizer.zero_grad()
            loss.backward()
            run.log_step(step, loss)
            optimizer.step()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=135)
    parser.add_argument("--n-train", type=int, default=512)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--no-layer-norm", action="store_true")
    parser.add_argument("--routes", default="auto,certified", help="index_method values to time")
    parser.add_argument("--checkpoints", default="0,200")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = encoded_run(Path(folder) / "outside.h5", args.width, args.n_train, args.steps, args.activation,
                           not args.no_layer_norm)
        with open_run(path) as run:
            n_params, per_hvp = int(run.n_params), hvp_seconds(run)
        planned = certified_seconds(HessianParams(), n_params, per_hvp)
        print(f"P = {n_params:,}, N = {args.n_train}, planned HVP {1e3 * per_hvp:.2g} ms, planned certified run "
              f"{planned:.0f} s (cap --krylov-steps {HessianParams().krylov_steps})")
        print("| route | step | wall_s | HVPs | index_kind | index | trace_kind | trace | index_note | trace_note |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for route in args.routes.split(","):
            for step in (int(s) for s in args.checkpoints.split(",")):
                started = time.perf_counter()
                result = analyze(path, "hessian", steps=(step,), index_method=route, use_cache=False)
                wall = time.perf_counter() - started
                row = result.table.iloc[0]
                print(f"| {route} | {step} | {wall:.1f} | {int(row['n_hvp'])} | {row['index_kind']} | "
                      f"{index_text(row, n_params)} | {row['trace_kind']} | {trace_text(row)} | "
                      f"{row['index_note']} | {row['trace_note']} |", flush=True)


if __name__ == "__main__":
    main()
