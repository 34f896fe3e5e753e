"""The residual on a basis: Fourier modes on a 1-D grid, spherical-harmonic degrees on the sphere, and the
projection of stored predictions on them (an NTK eigenvector basis is a `SampledBasis` of eigenvectors)."""

from analyzer.bases.base import Basis, ModeProjection, SampledBasis, project_residual
from analyzer.bases.for_run import RunBasis, basis_for_run
from analyzer.bases.fourier import FourierBasis, uniform_grid_length
from analyzer.bases.sphere import harmonic_basis, max_degree_for

__all__ = ["Basis", "FourierBasis", "ModeProjection", "RunBasis", "SampledBasis", "basis_for_run", "harmonic_basis",
           "max_degree_for", "project_residual", "uniform_grid_length"]
