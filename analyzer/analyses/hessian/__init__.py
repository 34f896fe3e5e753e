"""Hessian eigenanalysis of the full-batch training loss at checkpoints: saddle index along training."""

from analyzer.analyses.hessian.checkpoints import select_checkpoints
from analyzer.analyses.hessian.compute import compute
from analyzer.analyses.hessian.params import HessianParams
from analyzer.analyses.hessian.result import HessianResult
from analyzer.analyses.hessian.section import section
from analyzer.core.registry import Analysis

ANALYSIS = Analysis(
    name="hessian", params=HessianParams, result=HessianResult, compute=compute, version="5",
    summary="Hessian spectrum at checkpoints: extreme eigenvalues, saddle index, trace, saddle candidates",
    requires=("plateaus",), section=section, in_report=True,
)

# the solvers (eigen.py, saddle.py) import torch: import them from their modules when needed
__all__ = ["ANALYSIS", "HessianParams", "HessianResult", "select_checkpoints"]
