"""Benchmark: our Hessian solvers vs PyHessian (top only) and vs the dense oracle, 1 thread, float64.

Usage: OMP_NUM_THREADS=1 python bench/hessian_vs_pyhessian.py [--runs /tmp/study] [--steps 500,5000,10000]
Prints Markdown tables (per checkpoint: accuracy and wall time, with ratios; the `analyze hessian`
lanczos path -- exhaustive Krylov run -- with its index and bounds vs the dense count) and the
dense/Lanczos crossover in P. PyHessian is a bench-only extra (`pip install --no-deps pyhessian`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from analyzer.hessian import HessianParams, hessian_spectrum, loss_closure, saddle_metrics
from analyzer.hessian_solvers import HessianOperator, dense_spectrum, lanczos_spectrum
from analyzer.run import open_run

K = 10


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


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


def checkpoint_row(run, step: int, with_dense: bool) -> dict:
    loss_fn = loss_closure(run)
    theta_np = np.asarray(run.params_at(step))
    theta = torch.from_numpy(theta_np).double()
    lanczos_spectrum(HessianOperator(loss_fn, theta), 2, tol=1e-4)  # warm-up: torch.func's first-call costs
    ours_top, t_top = timed(lambda: lanczos_spectrum(HessianOperator(loss_fn, theta), K, tol=1e-8, bottom=False))
    ours, t_both = timed(lambda: lanczos_spectrum(HessianOperator(loss_fn, theta), K, tol=1e-8))
    py_top, t_py = timed(lambda: pyhessian_top(run, theta_np, K))
    op = HessianOperator(loss_fn, theta)
    krylov, t_krylov = timed(lambda: hessian_spectrum(loss_fn, theta, "lanczos", K, op=op))
    index = saddle_metrics(krylov, op, HessianParams(), grad_scale=1.0)
    row = {"run": run.path.stem, "P": run.n_params, "step": step, "lambda_max": ours.top[0],
           "lambda_min": ours.bottom[0], "t_ours_top_s": t_top, "t_pyhessian_top_s": t_py,
           "t_ours_top+bottom_s": t_both, "t_ours_bottom_s": t_both - t_top, "ours_hvps": ours.n_hvp,
           "analyze_method": krylov.method, "t_analyze_s": t_krylov, "analyze_hvps": krylov.n_hvp,
           "index": index["index_count"], "index_low": index["index_low"], "index_high": index["index_high"]}
    if with_dense:
        dense, t_dense = timed(lambda: dense_spectrum(HessianOperator(loss_fn, theta), K))
        exact, scale = dense.all_eigenvalues, dense.scale
        row.update(t_dense_s=t_dense,
                   err_ours_top=np.max(np.abs(ours_top.top - exact[::-1][:K])) / scale,
                   err_ours_bottom=np.max(np.abs(ours.bottom - exact[:K])) / scale,
                   err_pyhessian_top=np.max(np.abs(py_top - exact[::-1][:K])) / scale,
                   err_analyze_extremes=max(np.max(np.abs(krylov.top - exact[::-1][:K])),
                                            np.max(np.abs(krylov.bottom - exact[:K]))) / scale,
                   index_dense=int(np.sum(exact < -1e-6 * scale)))
    else:  # no oracle: ours at tol 1e-8 is the reference for PyHessian
        row.update(err_pyhessian_top=np.max(np.abs(py_top - ours_top.top)) / abs(ours_top.top[0]))
    return row


def crossover(widths=(10, 20, 30, 40, 50)) -> list[dict]:
    """Dense (full spectrum) vs Lanczos (top-10 + bottom-10) wall time on 2-hidden-layer MLPs of width w."""
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
        _, t_dense = timed(lambda: dense_spectrum(HessianOperator(loss_fn, theta), K))
        _, t_lanczos = timed(lambda: lanczos_spectrum(HessianOperator(loss_fn, theta), K, tol=1e-6))
        krylov, t_krylov = timed(lambda: hessian_spectrum(loss_fn, theta, "lanczos", K))
        rows.append({"width": width, "P": layout.n_params, "t_dense_s": t_dense, "t_arpack_s": t_lanczos,
                     "t_analyze_lanczos_s": t_krylov, "method": krylov.method,
                     "dense/analyze_lanczos": t_dense / t_krylov})
    return rows


def markdown(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("/tmp/study"))
    parser.add_argument("--steps", default="500,5000,10000")
    parser.add_argument("--dense-deep", action="store_true", help="also the (slow) dense oracle on deep")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = [int(s) for s in args.steps.split(",")]
    rows = []
    for preset in ("baseline", "deep"):
        with open_run(args.runs / f"{preset}.h5") as run:
            for i, step in enumerate(steps):
                with_dense = preset == "baseline" or (args.dense_deep and i == 0)
                rows.append(checkpoint_row(run, step, with_dense))
                print(markdown(rows[-1:]), flush=True)
    for row in rows:
        row["pyhessian/ours_top"] = row["t_pyhessian_top_s"] / row["t_ours_top_s"]
        if "t_dense_s" in row:
            row["dense/ours_top+bottom"] = row["t_dense_s"] / row["t_ours_top+bottom_s"]
    print("\n## per checkpoint\n" + markdown(rows))
    print("\n## crossover\n" + markdown(crossover()))


if __name__ == "__main__":
    main()
