"""The basis a run's residual is read on, and the modes its target puts energy in: Fourier modes and the
target frequencies for 1-D runs on a uniform grid, spherical-harmonic degrees and the target degrees for
harmonics runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.bases.base import Basis
from analyzer.bases.fourier import FourierBasis, uniform_grid_length
from analyzer.bases.sphere import harmonic_basis, max_degree_for
from analyzer.errors import BadInputError

EXTRA_DEGREES = 2  # a harmonics run's basis reaches this far past its highest target degree


@dataclass(frozen=True, eq=False)
class RunBasis:
    basis: Basis
    tracked: np.ndarray  # labels of the modes the target has energy in (frequencies or degrees)


def basis_for_run(run, max_degree: int | None = None) -> RunBasis:
    """The run's basis: harmonics for target kind "harmonics", Fourier modes otherwise (1-D uniform grids)."""
    x_stored = checked_eval_points(run)
    if run.target.get("kind") == "harmonics":
        return _harmonics(run, np.asarray(x_stored, dtype=np.float64), max_degree)
    if on_sphere_coords(run):
        return _harmonics(run, np.asarray(run.coords, dtype=np.float64), max_degree)
    length = eval_grid_length(run)
    freqs = run.target.get("freqs_hz") or []
    if len(freqs) == 0:
        raise BadInputError(f"{run.path}: the run stores no target frequencies")
    return RunBasis(FourierBasis(n_points=x_stored.shape[0], length=length), np.asarray(freqs, dtype=np.float64))


def on_sphere_coords(run) -> bool:
    """Whether the run's target lives on the sphere through its coords (an imported or logged run whose coords are
    points of S^(d-1), its target record holding the degrees found there): read on harmonic degrees."""
    coords = getattr(run, "coords", None)
    return coords is not None and coords.shape[1] >= 2 and bool((run.target.get("coords") or {}).get("sphere"))


def checked_eval_points(run) -> np.ndarray:
    """The run's stored x_eval, after refusing what no basis can read: several outputs, non-float inputs."""
    x_stored = run.data("x_eval")
    if run.pred_dataset.ndim != 3 or run.pred_dataset.shape[-1] != 1:
        raise BadInputError(f"{run.path}: a basis needs one output; predictions have shape {run.pred_dataset.shape}")
    if not np.issubdtype(x_stored.dtype, np.floating):
        raise BadInputError(f"{run.path}: x_eval must be floating point, got {x_stored.dtype}")
    return x_stored


def eval_grid_length(run) -> float:
    """G * dx of the run's uniform 1-D eval grid: its coords when it stores them (the coordinate the target lives on
    when the model's input encodes it), else x_eval; refuses grids and outputs Fourier modes cannot use."""
    x_stored = checked_eval_points(run)
    coords = getattr(run, "coords", None)
    grid, name = (x_stored, "x_eval") if coords is None else (coords, "coords")
    if grid.ndim != 2 or grid.shape[1] != 1:
        how = ("; give the 1-D coordinate the target lives on: RunWriter.for_model(..., coords=x) or train import "
               "--coords NAME" if coords is None else "")
        raise BadInputError(f"{run.path}: Fourier modes need a 1-D coordinate; {name} has shape {grid.shape}{how}")
    try:
        return uniform_grid_length(grid[:, 0], np.finfo(grid.dtype).eps)
    except BadInputError as err:
        where = "" if coords is None else " (the run's coords)"
        raise BadInputError(f"{run.path}: {err}{where}") from None


def _harmonics(run, points: np.ndarray, max_degree: int | None) -> RunBasis:
    degrees = sorted(int(d) for d in run.target.get("degrees") or [])
    if not degrees:
        note = run.target.get("freqs_note")
        raise BadInputError(f"{run.path}: the harmonics target stores no degrees" + (f" ({note})" if note else ""))
    wanted = max(degrees) + EXTRA_DEGREES if max_degree is None else max_degree
    reachable = max_degree_for(points.shape[1], points.shape[0], wanted)
    if reachable < max(degrees):
        raise BadInputError(f"{run.path}: {points.shape[0]} eval points are too few to fit harmonics up to "
                            f"degree {max(degrees)} on S^{points.shape[1] - 1}")
    return RunBasis(harmonic_basis(points, reachable), np.asarray(degrees, dtype=np.float64))


class committed_predictions:  # noqa: N801 (used like a function: committed_predictions(run)[a:b])
    """The committed rows of a run's /log/pred (the first `n_rows`, default all), sliceable by row blocks without
    reading everything."""

    def __init__(self, run, n_rows: int | None = None):
        self.dataset = run.pred_dataset
        n_rows = len(run.pred_steps) if n_rows is None else n_rows
        self.shape = (n_rows,) + tuple(self.dataset.shape[1:])

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0])
        return self.dataset[start:stop]
