"""Benchmark: `analyze hessian` (certified subspace run) vs the dense oracle, ARPACK and PyHessian, 1 thread.

Runs standalone from the repository root; it trains the runs it needs unless given them:

    OMP_NUM_THREADS=1 python bench/hessian_vs_pyhessian.py                    # quick: 2,000-epoch runs
    OMP_NUM_THREADS=1 python bench/hessian_vs_pyhessian.py --epochs 10000 --runs /tmp/hbench   # full size
    OMP_NUM_THREADS=1 python bench/hessian_vs_pyhessian.py --runs DIR --presets deep --steps 1260,3690

`--runs DIR` reuses DIR/<preset>.h5 and trains only the missing ones (a temporary folder by default).
Checkpoints: the plateau edges and midpoints `analyze hessian --at plateaus` picks, or `--steps`.
Per checkpoint: the analyze path's method, subspace dimension, HVPs, seconds, certified index [low, high]
and null multiplicity; with the dense oracle (default on P <= 3,000; `--dense-all` for every preset, slow
on P ~ 10k): its seconds, index, and the largest |lambda_k - lambda_k(dense)| / lambda_max over every k.
ARPACK and PyHessian top-10 (PyHessian only if installed: `pip install --no-deps pyhessian`).
Prints Markdown (paste into bench/RESULTS.md). `--crossover` adds dense vs subspace on MLPs of growing width.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages, not an installed copy

from analyzer.analyses.hessian import HessianParams, select_checkpoints  # noqa: E402
from analyzer.core.runner import analyze  # noqa: E402
from analyzer.curvature.eigen import hessian_eigenpairs  # noqa: E402
from analyzer.curvature.saddle import local_grad_scale, saddle_metrics  # noqa: E402
from analyzer.io.model import loss_closure  # noqa: E402
from analyzer.io.run import open_run  # noqa: E402
from analyzer.linalg.operators.hessian import HessianOperator  # noqa: E402
from analyzer.linalg.solvers import dense_eigenpairs, lanczos_eigenpairs  # noqa: E402

K = 10
PRESETS = ("baseline", "wide", "deep", "sgd")
DENSE_MAX_PARAMS = 3000


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def ensure_runs(folder: Path, presets, epochs: int) -> dict[str, Path]:
    """DIR/<preset>.h5 for each preset, trained with `epochs` epochs where missing."""
    from trainer.config import PRESETS as CONFIGS
    from trainer.engines.loop import train

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for preset in presets:
        path = folder / f"{preset}.h5"
        if not path.exists():
            print(f"training {preset} ({epochs} epochs) -> {path}", file=sys.stderr, flush=True)
            train(dataclasses.replace(CONFIGS[preset], epochs=epochs), path)
        paths[preset] = path
    return paths


def pyhessian_top(run, theta: np.ndarray, k: int) -> np.ndarray:
    """PyHessian's power iteration (default tol 1e-3) on the same model, data and loss."""
    from pyhessian import hessian as PyHessian

    from trainer.models import load_flat

    model, _ = run.build_model("float64")
    load_flat(model, torch.from_numpy(theta))
    x, y = (torch.from_numpy(run.data(n)).double() for n in ("x_train", "y_train"))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # PyHessian draws its random vectors in the default dtype
    try:
        torch.manual_seed(0)
        values, _ = PyHessian(model, torch.nn.MSELoss(), data=(x, y), cuda=False).eigenvalues(top_n=k)
    finally:
        torch.set_default_dtype(previous)
    return np.sort(np.array(values))[::-1]


def checkpoint_row(run, step: int, role: str, with_dense: bool, with_pyhessian: bool) -> dict:
    loss_fn = loss_closure(run)
    theta_np = np.asarray(run.params_at(step))
    theta = torch.from_numpy(theta_np).double()
    op = HessianOperator(loss_fn, theta)
    probe = torch.ones(op.n, dtype=torch.float64)
    _, hvp_s = timed(lambda: [op.apply(probe) for _ in range(20)])  # the machine's speed now: load varies
    op.n_products = 0
    params = HessianParams(k=K)
    spectrum, seconds = timed(lambda: hessian_eigenpairs(loss_fn, theta, "lanczos", K, op=op,
                                                       krylov_steps=params.krylov_steps))
    grad_scale = local_grad_scale(np.asarray(run.steps), np.asarray(run.grad_norm, dtype=float), step)
    metrics = saddle_metrics(spectrum, op, params, grad_scale)
    dim = spectrum.subspace.dim if spectrum.subspace is not None else None
    row = {"preset": run.path.stem, "P": run.n_params, "step": step, "role": role, "method": spectrum.method,
           "dim": dim, "HVPs": op.n_products, "hvp_ms": hvp_s / 20 * 1e3, "analyze_s": seconds,
           "index": metrics["index_count"],
           "index_low": metrics["index_low"], "index_high": metrics["index_high"],
           "certified": metrics["index_certified"], "null": metrics["null_multiplicity"],
           "error/lmax": metrics["eigenvalue_error"] / spectrum.scale, "lambda_min": metrics["lambda_min"],
           "lambda_max": metrics["lambda_max"]}
    arpack, row["arpack_top+bottom_s"] = timed(lambda: lanczos_eigenpairs(HessianOperator(loss_fn, theta), K, tol=1e-8))
    if with_pyhessian:
        py_top, row["pyhessian_top_s"] = timed(lambda: pyhessian_top(run, theta_np, K))
        row["err_pyhessian_top"] = np.max(np.abs(py_top - spectrum.top)) / spectrum.scale
    if with_dense:
        dense, row["dense_s"] = timed(lambda: dense_eigenpairs(HessianOperator(loss_fn, theta), K))
        exact, scale = dense.all_eigenvalues, dense.scale
        row.update(dense_index=int(np.sum(exact < -params.index_tol * scale)),
                   err_every_k=np.max(np.abs(spectrum.all_eigenvalues - exact)) / scale
                   if spectrum.all_eigenvalues is not None else np.nan,
                   err_arpack=max(np.max(np.abs(arpack.top - exact[::-1][:K])),
                                  np.max(np.abs(arpack.bottom - exact[:K]))) / scale)
    return row


def crossover(widths=(10, 20, 30, 40, 50)) -> list[dict]:
    """Dense (full spectrum) vs the certified subspace run on 2-hidden-layer MLPs of width w at init."""
    from trainer.config import ModelSpec
    from trainer.models import build_model, flatten, functional_forward, param_layout

    rows = []
    x = torch.linspace(0, 1, 1000, dtype=torch.float64)[:, None]
    y = torch.sin(2 * torch.pi * 3 * x)
    for width in widths:
        model = build_model(ModelSpec(width=width), seed=0, dtype=torch.float64)
        layout = param_layout(model)
        theta = flatten(model)
        loss_fn = lambda t: torch.mean((functional_forward(model, layout, t, x) - y) ** 2)  # noqa: E731
        _, t_dense = timed(lambda: dense_eigenpairs(HessianOperator(loss_fn, theta), K))
        subspace, t_subspace = timed(lambda: hessian_eigenpairs(loss_fn, theta, "lanczos", K))
        rows.append({"width": width, "P": layout.n_params, "dense_s": t_dense, "analyze_s": t_subspace,
                     "method": subspace.method, "dense/analyze": t_dense / t_subspace})
    return rows


def markdown(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder of <preset>.h5 runs; missing ones are trained there")
    parser.add_argument("--epochs", type=int, default=2000, help="epochs of the runs this script trains")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--steps", help="comma-separated checkpoint steps instead of the plateau points")
    parser.add_argument("--dense-all", action="store_true", help="dense oracle on every preset (minutes at P ~ 10k)")
    parser.add_argument("--crossover", action="store_true", help="also dense vs subspace over MLP widths")
    args = parser.parse_args(argv)
    args.presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in args.presets if p not in PRESETS]
    if unknown or args.epochs < 1:
        parser.error(f"unknown presets {unknown}; choose from {', '.join(PRESETS)}" if unknown
                     else "--epochs must be positive")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    try:
        import pyhessian  # noqa: F401
        with_pyhessian = True
    except ImportError:
        with_pyhessian = False
        print("PyHessian is not installed (pip install --no-deps pyhessian): its columns are left out",
              file=sys.stderr)
    folder = args.runs or Path(tempfile.mkdtemp(prefix="hessian-bench-"))
    paths = ensure_runs(folder, args.presets, args.epochs)
    rows = []
    for preset, path in paths.items():
        with open_run(path) as run:
            if args.steps:
                points = [(int(s), "step") for s in args.steps.split(",")]
            else:
                points = select_checkpoints(run, HessianParams(), lambda: analyze(run, "plateaus", use_cache=False))[0]
            with_dense = args.dense_all or run.n_params <= DENSE_MAX_PARAMS
            for step, role in points:
                rows.append(checkpoint_row(run, step, role, with_dense, with_pyhessian))
                print(markdown(rows[-1:]), file=sys.stderr, flush=True)
    print(f"runs: {folder}\n\n## per checkpoint\n" + markdown(rows))
    if args.crossover:
        print("\n## crossover\n" + markdown(crossover()))


if __name__ == "__main__":
    main()
