"""Hessian eigenanalysis of the full-batch training loss at checkpoints: saddle index along training.

Which checkpoints (checkpoints.py), one part per checkpoint (its row: analyzer/curvature/saddle.py, whose module
docstring says what a row holds and how each method finds it), each read from and written to the per-checkpoint
store (points.py), and the table of rows (result.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.hessian.checkpoints import select_checkpoints
from analyzer.analyses.hessian.params import HessianParams
from analyzer.analyses.hessian.points import PointStore
from analyzer.analyses.hessian.result import HessianResult
from analyzer.io.model import loss_closure


def compute(run, params: HessianParams, deps) -> HessianResult:
    """The Hessian at the selected checkpoints (at="plateaus": those of the run's plateaus result, through deps)."""
    points, selection = plan(run, params, deps)
    loss_fn = loss_closure(run, params.dtype)
    cache_path = getattr(deps, "cache_path", None)
    store = None if cache_path is None else PointStore.beside(run, cache_path)
    shown = _progress(run, params, points)
    twin = twin_route(run, params)  # one spectrum for every checkpoint of a twin, built at the first one computed
    return combine(run, params, selection, [part(run, params, point, loss_fn, store, twin) for point in shown])


# The same computation in parts, for several workers (Hooks.split; analyzer/core/parallel.py): one part per
# checkpoint, each independent of the others, so a run's checkpoints can be spread over a cluster.

def plan(run, params: HessianParams, deps) -> tuple[list[tuple[int, str]], str]:
    """The (step, role) checkpoints to analyse, and how they were chosen."""
    return select_checkpoints(run, params, lambda: deps.get("plateaus"))


def part(run, params: HessianParams, point: tuple[int, str], loss_fn=None, store="beside",
         twin=None) -> tuple[dict, object]:
    """One checkpoint's table row and its extreme eigenpairs (without their bases); `loss_fn` is the run's loss
    closure when the caller has built it already. `store`: the per-checkpoint PointStore (points.py) read
    first and written after; "beside" (the parts on workers) is the one beside the default cache, None none.
    `twin`: the twin route's shared spectrum (curvature/twin.TwinHessian) when the caller has one; a part of a twin on a
    worker builds its own."""
    from analyzer.curvature.saddle import checkpoint_row  # torch: imported when a Hessian is computed
    from trainer.engines.loop import one_thread

    step, role = point
    store = PointStore.beside(run) if store == "beside" else store
    stored = store.load(params, step) if store is not None else None
    if stored is not None:
        return {**stored[0], "role": role}, stored[1]
    extremes: list = []
    twin = twin or twin_route(run, params)
    with one_thread():  # HVPs on these small MLPs run 2x slower on 2 intra-op threads of a shared 2-core machine
        row = checkpoint_row(run, loss_fn or loss_closure(run, params.dtype), params, np.asarray(run.steps),
                             np.asarray(run.grad_norm, dtype=float), step, role, extremes, twin)
    if store is not None:
        store.save(params, step, row, extremes[0])
    return row, extremes[0]


def combine(run, params: HessianParams, selection: str, pieces: list[tuple[dict, object]]) -> HessianResult:
    rows = [row for row, _ in pieces]
    extremes = [eigenpairs for _, eigenpairs in pieces]
    stack = lambda name: np.array([getattr(e, name) for e in extremes]).reshape(len(extremes), -1)  # noqa: E731
    return HessianResult(table=pd.DataFrame(rows), eigenvalues_top=stack("top"), eigenvalues_bottom=stack("bottom"),
                         residuals_top=stack("top_residual"), residuals_bottom=stack("bottom_residual"),
                         selection=selection, n_params=int(run.n_params))


def twin_route(run, params: HessianParams):
    """The exact twin route's shared spectrum (curvature/twin.py; built on first use) when `run` is a linearised
    twin and the method resolves to it, else None (the HVP routes)."""
    from analyzer.curvature.cost import TWIN_METHOD, resolve_method
    from analyzer.curvature.twin import TwinHessian, is_twin

    chosen = resolve_method(params.method, int(run.n_params), params.k, params.dense_max_params, is_twin(run))
    return TwinHessian(run, params.max_dense_gb) if chosen == TWIN_METHOD else None


def _progress(run, params: HessianParams, points: list[tuple[int, str]]):
    """Each checkpoint as a progress task whose bar moves with its HVPs (analyzer/core/progress.py; nothing is
    shown unless a command opened the display)."""
    from analyzer.core import progress
    from analyzer.curvature.cost import checkpoint_budget, hvp_seconds

    budget = checkpoint_budget(params, int(run.n_params), hvp_seconds(run), twin=run.linearized is not None)
    for i, point in enumerate(points, 1):
        progress.task(f"Hessian at step {point[0]} ({i}/{len(points)})", budget, "HVPs")
        yield point
