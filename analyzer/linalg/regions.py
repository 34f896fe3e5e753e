"""Exact compression of the training set for a ReLU MLP's Hessian on 1-D inputs: two weighted points per linear region.

On an interval of inputs where every hidden unit keeps its sign pattern, a ReLU MLP is affine in x: its activations
a(x), its Jacobian J(x) and its second derivatives are polynomials of degree <= 1 in x there, and the backward
signals are the residual r(x) times a constant. So the Hessian of the mean-squared loss,
H = c sum_i [J(x_i)^T J(x_i) + r_i d2f(x_i)], needs of each region only the moments sum 1, sum x, sum x^2 (the
Gauss-Newton part, quadratic in x) and sum r, sum r x (the residual part, linear in x). Two points per region carry
them exactly: x = mu -/+ sigma (the region's mean and population standard deviation) with Gauss-Newton weights n/2
each, and residual weights rho_-/+ = (sum r -/+ sum r (x - mu) / sigma) / 2. Both points lie inside the region (a
region of 1-D inputs is an interval, and mu +/- sigma lies between its smallest and largest sample; where
rounding puts it outside, the region keeps its samples), so the network is
evaluated on the region's own affine piece. A region with one sample (or one distinct x) keeps it, with weights n and
sum r.

The products then cost (number of points) / (number of samples) of the per-sample ones: deep's plateau checkpoints
have 117-163 regions over 1,000 training inputs, wide's 36-41. Everything is exact algebra; only rounding differs
(the tests compare with the per-sample products and the dense Hessian). `MLPHessian` checks that each point has its
region's pattern and keeps the samples when one does not (rounding at a unit whose pre-activation is ~0 throughout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RegionPoints:
    """The weighted points standing in for the samples, and the sign pattern each must have."""

    x: np.ndarray  # (M, 1) inputs
    weight: np.ndarray  # (M,) Gauss-Newton weights: sum over a region = its sample count
    residual: np.ndarray  # (M, outputs) residual weights: sums of r and r x over a region reproduced
    pattern: np.ndarray  # (M, units) the hidden units' slopes of the point's region (from its first sample)


def region_points(x: np.ndarray, slopes: np.ndarray, residual: np.ndarray) -> RegionPoints:
    """The two-point rule of every linear region (module docstring).

    Args:
        x: (N, 1) training inputs, in any order; slopes: (N, units) every hidden unit's activation slope at each
            input (the sign pattern, for relu 0 or 1); residual: (N, outputs) f(x) - y.
    """
    order = np.argsort(x[:, 0], kind="stable")
    xs, pattern, rs = x[order, 0], slopes[order], residual[order]
    starts = np.flatnonzero(np.concatenate([[True], np.any(pattern[1:] != pattern[:-1], axis=1)]))
    ends = np.append(starts[1:], len(xs))
    points, weights, residuals, patterns = [], [], [], []
    for start, end in zip(starts, ends):
        xk, rk, count = xs[start:end], rs[start:end], end - start
        mu = xk.mean()
        deviation = xk - mu
        sigma = float(np.sqrt(np.mean(deviation ** 2)))
        total = rk.sum(axis=0)
        if count == 1 or sigma == 0.0:  # one distinct input: itself, with the region's weights
            points.append(xk[0])
            weights.append(float(count))
            residuals.append(total)
            patterns.append(pattern[start])
            continue
        if not (xk[0] <= mu - sigma and mu + sigma <= xk[-1]):  # (rounding only) outside: keep the samples
            points += list(xk)
            weights += [1.0] * count
            residuals += list(rk)
            patterns += [pattern[start]] * count
            continue
        tilt = (deviation[:, None] * rk).sum(axis=0) / sigma  # sum r (x - mu) / sigma
        points += [mu - sigma, mu + sigma]
        weights += [count / 2, count / 2]
        residuals += [(total - tilt) / 2, (total + tilt) / 2]
        patterns += [pattern[start], pattern[start]]
    return RegionPoints(x=np.asarray(points, dtype=x.dtype)[:, None], weight=np.asarray(weights, dtype=x.dtype),
                        residual=np.asarray(residuals, dtype=residual.dtype).reshape(len(points), -1),
                        pattern=np.asarray(patterns))
