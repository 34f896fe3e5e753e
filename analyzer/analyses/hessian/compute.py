"""Hessian eigenanalysis of the full-batch training loss at checkpoints: saddle index along training.

Per checkpoint: extreme eigenvalues (each with its residual or certified error), the index (eigenvalues
below t = -index_tol * scale, scale = largest |eigenvalue|) with certified bounds, the null space, trace
and gradient norm.

Methods. dense: the full Hessian (P HVPs) and its eigenvalues (LAPACK), exact to n u scale; `auto` uses
it up to 100 parameters. lanczos: first a certified subspace run (analyzer/linalg/subspace.py): the seed MLPs'
Hessians have an exact null space (ReLU, 1-D inputs: rank ~220 of 2,701 on baseline, ~2,050 of 10,351
on deep), so block Lanczos reaches an invariant subspace within `krylov_steps`; its Ritz values plus
P - m zeros are the whole spectrum, each within a certified error, and the index is certified
(method "exhaustive"). If the cap is hit first, the index is a quadrature estimate with its bracket
(linalg/krylov.py, "lanczos"), top/bottom-k from its extreme Ritz pairs when their fresh residuals meet
`tol`, else from restarted Lanczos (ARPACK, linalg/solvers.py). twin-gram (what `auto` takes on a linearised
twin): the Hessian (2 / (N o)) J_0^T J_0, the same at every checkpoint, from one Jacobian and one eigh of its Gram
matrix, exact to a certified rounding bound, no HVP (twin.py, linalg/gram.py).

Zero eigenvalues: |lambda| <= zero_tol = max(ZERO_TOL x scale, the method's certified error), i.e. values
the computation cannot tell from 0 at the accuracy it guarantees. ZERO_TOL = 1e-9 sits above the dense
path's error (n u scale ~ 1e-12) and the subspace run's usual one (1e-10..1e-9; it certifies up to
1e-8), and 1,000x below the default index_tol, so how the zeros are rounded never moves the index.
They are listed in order in top/bottom-k and counted as null_multiplicity (P - numerical rank), so
top-k and bottom-k equal the dense ones for every k.

Index bounds: index_low/index_high count the eigenvalues certainly / possibly below t (computed values
below t -/+ the certified error); index_certified says they agree. The subspace certificate is
probabilistic in one part (10 Gaussian probes: wrong with probability <= 1e-10, certificate_failure_prob).
index_tol_x2 / index_tol_half: counts below 2t and t/2, how much the index depends on the tolerance.
Quadrature (uncertified): Chebyshev-Markov-Stieltjes bracket at 2t and t/2 plus 2 sigma of the one-probe
sampling error, floored by converged bottom eigenvalues and Cauchy interlacing. index_err is half the width.

Saddle rule: a checkpoint is a saddle candidate when
  (a) its gradient is small for its time: grad_rel = ||grad L|| / (median of the logged gradient norms
      over the decade of steps around it, [step / sqrt 10, step * sqrt 10]) <= grad_tol (0.5), i.e. the
      gradient sits in a dip at most half its local typical size, as in the slow middle of a plateau --
      a global threshold is meaningless when the gradient norm spans orders of magnitude over a run; and
  (b) it has negative curvature beyond tolerance: lambda_min + residual(lambda_min) < t.

HVPs are reverse-over-reverse (linalg/operators/hessian.HessianOperator), not the forward-over-reverse the issue
names: with the gradient graph built once per checkpoint each product is one backward pass, 3x faster
here (1.7 ms vs 5.6 ms on baseline); mode="fwd" is kept and tested equal.
"""

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
    `twin`: the twin route's shared spectrum (twin.TwinHessian) when the caller has one; a part of a twin on a
    worker builds its own."""
    from analyzer.analyses.hessian.saddle import checkpoint_row  # torch: imported when a Hessian is computed
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
    """The exact twin route's shared spectrum (twin.py; built on first use) when `run` is a linearised twin and the
    method resolves to it, else None (the HVP routes)."""
    from analyzer.analyses.hessian.cost import TWIN_METHOD, resolve_method
    from analyzer.analyses.hessian.twin import TwinHessian, is_twin

    chosen = resolve_method(params.method, int(run.n_params), params.k, params.dense_max_params, is_twin(run))
    return TwinHessian(run, params.max_dense_gb) if chosen == TWIN_METHOD else None


def _progress(run, params: HessianParams, points: list[tuple[int, str]]):
    """Each checkpoint as a progress task whose bar moves with its HVPs (analyzer/core/progress.py; nothing is
    shown unless a command opened the display)."""
    from analyzer.analyses.hessian.cost import checkpoint_budget, hvp_seconds
    from analyzer.core import progress

    budget = checkpoint_budget(params, int(run.n_params), hvp_seconds(run), twin=run.linearized is not None)
    for i, point in enumerate(points, 1):
        progress.task(f"Hessian at step {point[0]} ({i}/{len(points)})", budget, "HVPs")
        yield point
