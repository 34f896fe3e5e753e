"""Hessian eigenanalysis of the full-batch training loss at checkpoints: saddle index along training."""

from analyzer.analyses.hessian.checkpoints import select_checkpoints
from analyzer.analyses.hessian.compute import compute
from analyzer.analyses.hessian.eigen import hessian_eigenpairs, resolve_method
from analyzer.analyses.hessian.params import HessianParams
from analyzer.analyses.hessian.result import HessianResult
from analyzer.analyses.hessian.saddle import local_grad_scale, saddle_metrics
from analyzer.analyses.hessian.section import section
from analyzer.core.registry import Analysis
from analyzer.io.model import loss_closure

ANALYSIS = Analysis(
    name="hessian", params=HessianParams, result=HessianResult, compute=compute, version="5",
    summary="Hessian spectrum at checkpoints: extreme eigenvalues, saddle index, trace, saddle candidates",
    requires=("plateaus",), section=section, in_report=True,
)

__all__ = ["ANALYSIS", "HessianParams", "HessianResult", "hessian_eigenpairs", "local_grad_scale", "loss_closure",
           "resolve_method", "saddle_metrics", "select_checkpoints"]
