"""Hessian eigenanalysis of the full-batch training loss at checkpoints: saddle index along training.

Per checkpoint: extreme eigenvalues (each with its residual or certified error), the index (eigenvalues
below t = -index_tol * scale, scale = largest |eigenvalue|) with certified bounds, the null space, trace
and gradient norm.

Methods. dense: the full Hessian (P HVPs) and its eigenvalues (LAPACK), exact to n u scale; `auto` uses
it up to 100 parameters. lanczos: first a certified subspace run (hessian_subspace): the seed MLPs'
Hessians have an exact null space (ReLU, 1-D inputs: rank ~220 of 2,701 on baseline, ~2,050 of 10,351
on deep), so block Lanczos reaches an invariant subspace within `krylov_steps`; its Ritz values plus
P - m zeros are the whole spectrum, each within a certified error, and the index is certified
(method "exhaustive"). If the cap is hit first, the index is a quadrature estimate with its bracket
(hessian_krylov, "lanczos"), top/bottom-k from its extreme Ritz pairs when their fresh residuals meet
`tol`, else from restarted Lanczos (ARPACK, hessian_solvers).

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

HVPs are reverse-over-reverse (hessian_solvers.HessianOperator), not the forward-over-reverse the issue
names: with the gradient graph built once per checkpoint each product is one backward pass, 3x faster
here (1.7 ms vs 5.6 ms on baseline); mode="fwd" is kept and tested equal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from analyzer.errors import BadInputError
from analyzer.hessian_index import index_estimate, index_from_spectrum
from analyzer.hessian_krylov import krylov_run, spectrum_from_krylov
from analyzer.hessian_solvers import HessianOperator, Spectrum, dense_bytes, dense_spectrum, lanczos_spectrum
from analyzer.hessian_subspace import spectrum_from_subspace, subspace_run
from analyzer.registry import register
from trainer.loop import one_thread

METHODS = ("auto", "dense", "lanczos")
SELECTIONS = ("plateaus", "every", "steps")
FALLBACK_POINTS = 10  # checkpoints analysed when no plateau is found
QUADRATURE_STEPS = 500  # Lanczos steps of the index estimate when the certified run hits its cap


@dataclass(frozen=True)
class HessianParams:
    """Options of `analyze hessian`.

    Args:
        at: checkpoint selection: plateaus (edges and midpoints of detected plateaus), every, steps.
        every: with at="every", analyse the stored checkpoints nearest to 0, N, 2N, ...
        steps: with at="steps", these stored checkpoint steps exactly.
        k: number of top and of bottom eigenpairs.
        method: dense (exact, full spectrum), lanczos (top/bottom-k + SLQ density), auto.
        tol: an eigenpair is converged when ||Hv - lambda v|| <= tol * scale.
        index_tol: eigenvalues below -index_tol * scale count towards the saddle index.
        grad_tol: saddle rule (a): gradient norm at most this times its median over the surrounding decade.
        dense_max_params: auto uses dense up to this many parameters.
        max_dense_gb: dense refuses models whose Hessian needs more memory than this.
        krylov_steps: cap on the certified subspace run (its dimension, ~ HVPs); beyond it the index is a
            bracketed estimate.
    """

    at: str = "plateaus"
    every: int = 0
    steps: tuple[int, ...] = ()
    k: int = 10
    method: str = "auto"
    tol: float = 1e-8
    index_tol: float = 1e-6
    grad_tol: float = 0.5
    dense_max_params: int = 100  # bench/RESULTS.md: the subspace run is faster already at P = 141
    max_dense_gb: float = 4.0
    krylov_steps: int = 5000  # ranks seen: baseline/sgd ~220, wide ~400, deep ~2,050 (bench/RESULTS.md)
    dtype: str = "float64"
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(int(s) for s in self.steps))
        if self.at == "plateaus" and self.steps:  # hessian(run, steps=(0, 500)) means those steps
            object.__setattr__(self, "at", "steps")
        elif self.at == "plateaus" and self.every:
            object.__setattr__(self, "at", "every")
        if self.at not in SELECTIONS:
            raise ValueError(f"at must be one of {', '.join(SELECTIONS)}, got {self.at!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.at == "every" and self.every < 1:
            raise ValueError(f"every must be a positive number of steps, got {self.every}")
        if self.at == "steps" and not self.steps:
            raise ValueError("at=steps needs at least one step")
        for name in ("k", "krylov_steps", "dense_max_params"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("tol", "index_tol", "grad_tol", "max_dense_gb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")


@dataclass(frozen=True)
class HessianResult:
    """One row per analysed checkpoint, plus the extreme eigenvalues and their residuals."""

    table: pd.DataFrame
    eigenvalues_top: np.ndarray  # (n_ckpt, k) descending
    eigenvalues_bottom: np.ndarray  # (n_ckpt, k) ascending
    residuals_top: np.ndarray
    residuals_bottom: np.ndarray
    selection: str  # how the checkpoints were chosen, in words
    n_params: int

    def headline(self) -> str:
        if self.table.empty:
            return "no checkpoints analysed"
        saddles = int(self.table["saddle_candidate"].sum())
        unconverged = int((~self.table["converged"]).sum())
        note = f"; {unconverged} not converged" if unconverged else ""
        return (f"{len(self.table)} checkpoints ({self.selection}), {saddles} saddle candidates, "
                f"P = {self.n_params}{note}")

    def tables(self) -> dict[str, pd.DataFrame]:
        # the report's golden files fix these columns; index_low/high and grad_rel are in .table and --json
        shown = ["step", "role", "lambda_max", "lambda_min", "index_count", "index_err", "trace", "grad_norm",
                 "saddle_candidate", "method", "converged", "max_rel_residual"]
        return {"Hessian at checkpoints": self.table[[c for c in shown if c in self.table]]}


def loss_closure(run, dtype: str = "float64"):
    """The training loss as a function of the flat parameter vector, exactly as trained (mean MSE)."""
    from trainer.models import functional_forward

    model, layout = run.build_model(dtype)
    torch_dtype = getattr(torch, dtype)
    x = torch.from_numpy(run.data("x_train")).to(torch_dtype)
    y = torch.from_numpy(run.data("y_train")).to(torch_dtype)

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return torch.mean((functional_forward(model, layout, theta, x) - y) ** 2)

    return loss


def hessian_spectrum(loss_fn, theta: torch.Tensor, method: str = "auto", k: int = 10, tol: float = 1e-8,
                     dense_max_params: int = 100, max_dense_gb: float = 4.0, seed: int = 0,
                     op: HessianOperator | None = None, krylov_steps: int = 5000) -> Spectrum:
    """Extreme eigenvalues of the Hessian of any scalar `loss_fn` at `theta`, by the chosen method."""
    op = op or HessianOperator(loss_fn, theta)
    if k > op.n:
        raise BadInputError(f"k = {k} is larger than the parameter count {op.n}")
    chosen = resolve_method(method, op.n, k, dense_max_params)
    if chosen == "dense":
        needed_gb = dense_bytes(op.n) / 1e9
        if needed_gb > min(max_dense_gb, _available_gb()):
            raise BadInputError(f"dense Hessian of {op.n} parameters needs {needed_gb:.1f} GB, more than the "
                                f"{min(max_dense_gb, _available_gb()):.1f} GB allowed/available; use --method lanczos")
        return dense_spectrum(op, k)
    started = time.perf_counter()
    subspace = subspace_run(op, krylov_steps, seed=seed)
    if subspace.certified:
        return spectrum_from_subspace(subspace, k, seconds=time.perf_counter() - started)
    # too big for the cap: one Lanczos probe for the quadrature estimate of the index, extremes from
    # its Ritz pairs when their fresh residuals meet `tol`, else from restarted Lanczos
    run = krylov_run(op, min(QUADRATURE_STEPS, krylov_steps), seed=seed)
    spectrum = spectrum_from_krylov(op, run, k) if run.steps >= 2 * k else None
    if spectrum is None or not spectrum.converged(tol):
        spectrum = lanczos_spectrum(op, k, tol=tol, seed=seed)
        spectrum.krylov = run
    spectrum.subspace, spectrum.n_hvp, spectrum.seconds = subspace, op.n_hvp, time.perf_counter() - started
    return spectrum


def resolve_method(method: str, n_params: int, k: int, dense_max_params: int) -> str:
    if method == "auto":
        return "dense" if n_params <= dense_max_params or 2 * k >= n_params else "lanczos"
    if method == "lanczos" and k >= n_params:
        raise BadInputError(f"lanczos needs k below the parameter count {n_params}, got k = {k}; use --method dense")
    return method


def _available_gb() -> float:
    import os

    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9
    except (ValueError, OSError):
        return math.inf


def saddle_metrics(spectrum: Spectrum, op: HessianOperator, params: HessianParams, grad_scale: float) -> dict:
    """The per-checkpoint row: extremes, index with bounds, null space, trace, gradient norm, saddle flag.

    `grad_scale` is the typical gradient norm around this checkpoint (saddle rule (a) in the module doc).
    """
    threshold = -params.index_tol * spectrum.scale
    if spectrum.all_eigenvalues is not None:
        index = index_from_spectrum(spectrum, threshold)
    else:
        index = index_estimate(spectrum, params.tol, threshold)
    grad_norm = float(torch.linalg.vector_norm(op.grad))
    grad_rel = grad_norm / grad_scale if grad_scale > 0 else math.inf
    lambda_min, lambda_max = float(spectrum.bottom[0]), float(spectrum.top[0])
    negative = lambda_min + float(np.nan_to_num(spectrum.bottom_residual[0], nan=np.inf)) < threshold
    return {
        "lambda_max": lambda_max, "lambda_min": lambda_min,
        "ratio": lambda_min / lambda_max if lambda_max != 0 else math.nan,
        **index, "index_fraction": index["index_count"] / op.n,
        "index_err": (index["index_high"] - index["index_low"]) / 2,
        "grad_norm": grad_norm, "grad_rel": grad_rel,
        "saddle_candidate": bool(negative and grad_rel <= params.grad_tol),
        "method": spectrum.method, "converged": spectrum.converged(params.tol),
        "max_rel_residual": spectrum.max_rel_residual, "seconds": spectrum.seconds, "n_hvp": op.n_hvp,
    }


def local_grad_scale(steps: np.ndarray, grad_norm: np.ndarray, step: int) -> float:
    """Median logged gradient norm over [step / sqrt 10, step * sqrt 10] (the first 10 steps for small steps)."""
    low, high = step / math.sqrt(10), max(step * math.sqrt(10), 10)
    window = grad_norm[(steps >= low) & (steps <= high) & np.isfinite(grad_norm)]
    return float(np.median(window)) if len(window) else math.nan


def select_checkpoints(run, params: HessianParams) -> tuple[list[tuple[int, str]], str]:
    """(step, role) pairs to analyse and a phrase saying how they were chosen."""
    stored = np.asarray(run.ckpt_steps)
    if len(stored) == 0:
        raise BadInputError(f"{run.path}: the run has no stored checkpoints")
    if params.at == "steps":
        for step in params.steps:
            run.params_at(step)  # raises BadInputError naming the stored steps
        return [(s, "step") for s in params.steps], "given steps"
    if params.at == "every":
        wanted = np.arange(0, int(stored[-1]) + 1, params.every)
        return _snap(stored, [(int(w), "every") for w in wanted]), f"every {params.every} steps"
    wanted = _plateau_points(run)
    if wanted:
        return _snap(stored, wanted), "plateau edges and midpoints"
    spaced = np.linspace(stored[0], stored[-1], FALLBACK_POINTS)
    return _snap(stored, [(int(w), "spaced") for w in spaced]), \
        f"no plateau found, so {FALLBACK_POINTS} evenly spaced checkpoints"


def _plateau_points(run) -> list[tuple[int, str]]:
    try:
        from analyzer import plateaus
    except ImportError:
        return []
    found = plateaus.compute(run, plateaus.PlateauParams()).plateaus(method="changepoint")
    points = []
    for _, row in found.iterrows():
        start, end = int(row["start_step"]), int(row["end_step"])
        points += [(start, "start"), ((start + end) // 2, "middle"), (end, "end")]
    return points


def _snap(stored: np.ndarray, wanted: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Nearest stored checkpoint for each wanted step; the first role wins for duplicates."""
    chosen: dict[int, str] = {}
    for step, role in wanted:
        nearest = int(stored[np.argmin(np.abs(stored - step))])
        chosen.setdefault(nearest, role)
    return sorted(chosen.items())


@register("hessian", params=HessianParams, result=HessianResult, version="5",
          summary="Hessian spectrum at checkpoints: extreme eigenvalues, saddle index, trace, saddle candidates")
def compute(run, params: HessianParams) -> HessianResult:
    points, selection = select_checkpoints(run, params)
    loss_fn = loss_closure(run, params.dtype)
    logged_steps, logged_grad = np.asarray(run.steps), np.asarray(run.grad_norm, dtype=float)
    rows, spectra = [], []
    with one_thread():  # HVPs on these small MLPs run 2x slower on 2 intra-op threads of a shared 2-core machine
        for step, role in _progress(points):
            rows.append(_checkpoint_row(run, loss_fn, params, logged_steps, logged_grad, step, role, spectra))
    stack = lambda name: np.array([getattr(s, name) for s in spectra]).reshape(len(spectra), -1)  # noqa: E731
    return HessianResult(table=pd.DataFrame(rows), eigenvalues_top=stack("top"), eigenvalues_bottom=stack("bottom"),
                         residuals_top=stack("top_residual"), residuals_bottom=stack("bottom_residual"),
                         selection=selection, n_params=int(run.n_params))


def _checkpoint_row(run, loss_fn, params, logged_steps, logged_grad, step, role, spectra) -> dict:
    theta = torch.from_numpy(np.asarray(run.params_at(step))).to(getattr(torch, params.dtype))
    op = HessianOperator(loss_fn, theta)
    spectrum = hessian_spectrum(loss_fn, theta, params.method, params.k, params.tol, params.dense_max_params,
                                params.max_dense_gb, params.seed, op=op, krylov_steps=params.krylov_steps)
    spectra.append(replace(spectrum, all_eigenvalues=None, krylov=None, subspace=None))  # not their bases
    grad_scale = local_grad_scale(logged_steps, logged_grad, step)
    return {"step": step, "role": role, **saddle_metrics(spectrum, op, params, grad_scale)}


def _progress(points: list[tuple[int, str]]):
    """Iterate with a rich progress bar on stderr (only when stderr is a terminal)."""
    import sys

    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True)
    return track(points, description="Hessian at checkpoints", console=console, transient=True,
                 disable=not sys.stderr.isatty())
