"""Escape directions: does leaving a plateau move along its negative curvature more than ordinary motion with the same
loss drop does?"""

from analyzer.analyses.escape.compute import compute
from analyzer.analyses.escape.estimate import estimate
from analyzer.analyses.escape.params import EscapeParams
from analyzer.analyses.escape.result import EscapeResult
from analyzer.analyses.escape.section import section
from analyzer.core.registry import Analysis, Hooks, Tags

ANALYSIS = Analysis(
    name="escape", params=EscapeParams, result=EscapeResult, compute=compute, version="3",
    summary="escape displacement vs the plateau Hessian's negative eigenspace, a loss-drop-matched control "
            "displacement, and the frequency the negative directions carry",
    requires=("plateaus", "spectrum"), section=section, tags=Tags(reads="checkpoints", cost="heavy"),
    hooks=Hooks(estimate=estimate),
)

__all__ = ["ANALYSIS", "EscapeParams", "EscapeResult"]
