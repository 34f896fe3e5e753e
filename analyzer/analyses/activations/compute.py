"""Singular-value spectra and principal components of A = eta(sigma (x - b^T)) for eight activations (Lucey).

x (N points) and b (M biases) are uniform grids on [0, 1] (both ends included), so A[i, j] =
eta(sigma (x_i - b_j)) is the hidden layer of a one-hidden-layer 1-D network with unit input weights
and biases spread over the input range. Its SVD A = U S V^T gives the spectrum the layer can express:
`singular_values[eta][k] = s_k / s_0`, descending, k = 0, 1, ... (0-based: the first value is 1), and the
principal components u_k(x) = U[:, k], functions of x, each with unit Euclidean norm and its sign fixed
so that its largest-magnitude entry is positive.

Conventions (numpy float64, independent of the trainer's torch activations): heaviside(t) = 1 for t > 0,
1/2 at 0, 0 below; relu2 = relu^2; gelu the exact erf form; silu t / (1 + e^-t); gaussian exp(-t^2 / 2)
(the trainer's); sinc the normalised sin(pi t) / (pi t) (numpy's), whose band limit is sigma / 2 cycles per
unit, so on [0, 1] about sigma components carry it and its spectrum stays near 1 up to k ~ sigma, then
drops (the trainer's `sinc` activation is sin(t) / t, which is this one at sigma / pi).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from analyzer.analyses.activations.params import COMPONENT_INDICES, ActivationsParams
from analyzer.analyses.activations.result import ActivationsResult

ACTIVATIONS = {
    "heaviside": lambda t: np.heaviside(t, 0.5),
    "relu": lambda t: np.maximum(t, 0.0),
    "relu2": lambda t: np.maximum(t, 0.0) ** 2,
    "tanh": np.tanh,
    "gelu": lambda t: _gelu(t),
    "silu": lambda t: t / (1.0 + np.exp(-t)),
    "sinc": np.sinc,
    "gaussian": lambda t: np.exp(-0.5 * t * t),
}
MONOTONIC = ("heaviside", "relu", "relu2", "tanh")  # gelu and silu dip below zero: ReLU-like, not monotonic
SCALE_EQUIVARIANT = ("heaviside", "relu", "relu2")  # eta(c t) = c^r eta(t): sigma only rescales A
LEVELS = (0.5, 1e-2, 1e-4)  # the summary table's "first k with s_k / s_0 below" columns


def _gelu(t: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # imported on use: the CLI starts without scipy.special

    return 0.5 * t * (1.0 + erf(t / np.sqrt(2.0)))


def activation_matrix(name: str, sigma: float, x: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """A[i, j] = eta(sigma (x_i - b_j)), float64, shape (len(x), len(biases))."""
    return ACTIVATIONS[name](sigma * (x[:, None] - biases[None, :]))


def singular_values_and_components(matrix: np.ndarray, indices=COMPONENT_INDICES) -> tuple[np.ndarray, np.ndarray]:
    """Normalised singular values (descending, first 1) and the left singular vectors u_k for k in `indices`."""
    left, singular, _ = np.linalg.svd(matrix, full_matrices=False)
    components = left[:, list(indices)].T.copy()
    peaks = components[np.arange(len(indices)), np.argmax(np.abs(components), axis=1)]
    components *= np.where(peaks < 0, -1.0, 1.0)[:, None]
    return singular / singular[0], components


def compute(run, params: ActivationsParams, deps=None) -> ActivationsResult:
    """Spectra and components of every activation; needs no run (`run` is None)."""
    x = np.linspace(0.0, 1.0, params.n)
    biases = np.linspace(0.0, 1.0, params.bias_count)
    singular_values, components = {}, []
    for name in ACTIVATIONS:
        spectrum, vectors = singular_values_and_components(activation_matrix(name, params.sigma, x, biases))
        singular_values[name] = spectrum
        components.append(vectors)
    return ActivationsResult(sigma=float(params.sigma), x=x, n_biases=len(biases), activations=tuple(ACTIVATIONS),
                             singular_values=singular_values,
                             component_indices=COMPONENT_INDICES, components=np.stack(components),
                             summary=summary_table(singular_values, params.sigma))


def summary_table(singular_values: dict[str, np.ndarray], sigma: float) -> pd.DataFrame:
    """Per activation: its kind, s_k / s_0 at k = 1, 10, round(sigma), 2 round(sigma), and where it falls below LEVELS."""
    rows = []
    at = {"s_1": 1, "s_10": 10, "s_sigma": int(round(sigma)), "s_2sigma": 2 * int(round(sigma))}
    for name, spectrum in singular_values.items():
        row = {"activation": name, "monotonic": name in MONOTONIC, "scale_equivariant": name in SCALE_EQUIVARIANT}
        row |= {column: float(spectrum[k]) if k < len(spectrum) else np.nan for column, k in at.items()}
        for level in LEVELS:
            below = np.flatnonzero(spectrum < level)
            row[f"first_k_below_{level:g}"] = int(below[0]) if len(below) else -1
        rows.append(row)
    return pd.DataFrame(rows)
