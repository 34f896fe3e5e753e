"""Extra columns of a Hessian checkpoint's row: the index at several tolerances, and the cost in gradients.

Index sensitivity: the index fraction counted below -tol x max |eigenvalue| for each tol in
SENSITIVITY_TOLS (columns `index_fraction_tol_<tol>`), from the whole certified (or dense) spectrum; NaN
where only an estimate exists. The saddle reading should be the same at all three (issue 22: the count
moves from 21 to 26 between 1e-6 and 1e-9 on sgd, a continuum of tiny negative values).

Cost: `cost_gradients` = the checkpoint's eigen-solver seconds / the seconds of one full-batch gradient of
the training loss at that checkpoint (median of GRADIENT_REPEATS, measured in the same process), the unit
curvature libraries quote costs in; `n_hvp` counts the Hessian-vector products.
"""

from __future__ import annotations

import math
import time

import numpy as np

SENSITIVITY_TOLS = (1e-8, 1e-6, 1e-4)
GRADIENT_REPEATS = 5


def tolerance_column(tol: float) -> str:
    return f"index_fraction_tol_{tol:g}"


def tolerance_fractions(eigenpairs, n_params: int) -> dict:
    """Index fraction below -tol x scale for each tolerance of SENSITIVITY_TOLS (NaN without the full spectrum)."""
    values = eigenpairs.all_eigenvalues
    return {tolerance_column(tol): (math.nan if values is None else
                                    float(np.sum(values < -tol * eigenpairs.scale)) / n_params)
            for tol in SENSITIVITY_TOLS}


def gradient_seconds(loss_fn, theta) -> float:
    """Median wall time of one full-batch gradient of `loss_fn` at `theta` (autograd, as training computes it)."""
    import torch

    point = theta.detach().clone().requires_grad_(True)
    times = []
    for _ in range(GRADIENT_REPEATS):
        started = time.perf_counter()
        torch.autograd.grad(loss_fn(point), point)
        times.append(time.perf_counter() - started)
    return float(np.median(times))
