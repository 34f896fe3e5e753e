"""Fourier modes on a uniform 1-D grid: the basis today's spectrum analysis uses, computed with the FFT.

On G points x_n = x_0 + n dx of a grid of length L = G dx, mode k (frequency k / L Hz, k = 0 .. G // 2)
holds sqrt(2) cos(2 pi k x / L) and sqrt(2) sin(2 pi k x / L), orthonormal under the grid's mean; the DC
and an even Nyquist mode hold one function (1, resp. (-1)^n). With X_k = rfft(values)_k the coefficients
are sqrt(2) Re X_k / G and -sqrt(2) Im X_k / G (X_0 / G and X_{G/2} / G at the ends), so a mode's norm is
sqrt(2) |X_k| / G: a sinusoid of amplitude a has norm a / sqrt(2), and ratios of norms are ratios of |X_k|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.bases.base import Basis


@dataclass(frozen=True, eq=False)
class FourierBasis(Basis):
    """Fourier modes 0 .. G // 2 of a uniform grid of `n_points` spanning `length` (G dx)."""

    n_points: int
    length: float = 1.0
    kind: str = "fourier"
    label_name: str = "freq_hz"

    @property
    def labels(self) -> np.ndarray:
        return np.arange(self.n_points // 2 + 1) / self.length

    def dft(self, values: np.ndarray) -> np.ndarray:
        """X_k = rfft(values)_k, k = 0 .. G // 2, of each row (float64): the one FFT every Fourier reading uses."""
        return np.fft.rfft(np.asarray(values, dtype=np.float64), axis=-1)

    def coefficients(self, values: np.ndarray, modes: np.ndarray) -> np.ndarray:
        modes = np.asarray(modes, dtype=np.int64)
        spectrum = self.dft(values)[:, modes]
        single = (modes == 0) | (2 * modes == self.n_points)  # DC and an even Nyquist: one real function
        scale = np.where(single, 1.0, np.sqrt(2.0)) / self.n_points
        return np.stack([spectrum.real * scale, -spectrum.imag * scale], axis=-1)


def uniform_grid_length(x: np.ndarray, eps: float) -> float:
    """G * dx of a uniform 1-D grid, to the precision it was stored in (float32 grids: 6 digits).

    Raises BadInputError for fewer than 4 points or a grid that is not uniform.
    """
    from analyzer.errors import BadInputError

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) < 4:
        raise BadInputError(f"the eval grid has {len(x)} points; Fourier modes need at least 4")
    dx = (x[-1] - x[0]) / (len(x) - 1)
    tolerance = 1e-3 * dx + 8 * eps * np.max(np.abs(x))
    if not dx > 0 or np.max(np.abs(np.diff(x) - dx)) > tolerance:
        raise BadInputError("the eval grid is not uniform; Fourier modes need a uniform grid")
    digits = max(1, int(-np.log10(eps)) - 1)
    return float(f"{dx * len(x):.{digits}g}")
