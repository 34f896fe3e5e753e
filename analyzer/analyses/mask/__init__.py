"""Gradient descent as the shrinkage mask m(s) = 1 - (1 - a_eff s^2)^q on the singular values of the Jacobian at
the first checkpoint, against the fractions of the target the run fitted (issue 14, Lucey; docs/ntk.md)."""

from analyzer.analyses.mask.compute import compute
from analyzer.analyses.mask.params import MaskParams
from analyzer.analyses.mask.result import MaskResult
from analyzer.analyses.mask.section import section
from analyzer.core.registry import Analysis, Tags

ANALYSIS = Analysis(
    name="mask", params=MaskParams, result=MaskResult, compute=compute, version="2",
    summary="GD as a shrinkage mask on the Jacobian's singular values (Lucey): predicted vs fitted fraction "
            "per direction, fit error, bandwidth vs sqrt(q)",
    section=section, tags=Tags(reads="checkpoints"),
)

__all__ = ["ANALYSIS", "MaskParams", "MaskResult", "compute"]
