"""The empirical neural tangent kernel at a checkpoint: eigenpairs, the residual along its eigenvectors, decay
rates observed against the linearised GD prediction, kernel drift, and where each target frequency loads
(issue 14, Cao et al. and Bowman & Montúfar; docs/ntk.md)."""

from analyzer.analyses.ntk.compute import compute
from analyzer.analyses.ntk.params import NtkParams
from analyzer.analyses.ntk.result import NtkResult
from analyzer.analyses.ntk.section import section
from analyzer.core.registry import Analysis, Tags

ANALYSIS = Analysis(
    name="ntk", params=NtkParams, result=NtkResult, compute=compute, version="4",
    summary="empirical NTK at a checkpoint: eigenvalues, residual decay rates per eigendirection (observed vs "
            "linearised GD), kernel drift, target-frequency loadings",
    section=section, tags=Tags(reads="checkpoints"),
)

__all__ = ["ANALYSIS", "NtkParams", "NtkResult", "compute"]
