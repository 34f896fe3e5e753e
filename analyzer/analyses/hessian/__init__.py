"""Hessian eigenanalysis of the full-batch training loss at checkpoints: saddle index along training."""

from analyzer.analyses.hessian.checkpoints import select_checkpoints
from analyzer.analyses.hessian.compute import combine, compute, part, plan
from analyzer.analyses.hessian.estimate import estimate
from analyzer.analyses.hessian.params import VERSION, HessianParams
from analyzer.analyses.hessian.result import HessianResult
from analyzer.analyses.hessian.section import section
from analyzer.core.registry import Analysis, Hooks, Split, Tags

ANALYSIS = Analysis(
    name="hessian", params=HessianParams, result=HessianResult, compute=compute, version=VERSION,
    summary="Hessian eigenvalues at checkpoints: extreme eigenvalues, saddle index, trace, saddle candidates",
    requires=("plateaus",), section=section,
    tags=Tags(reads="checkpoints", fast_params={"at": "steps", "steps": (0, 150)}, cost="heavy"),
    hooks=Hooks(in_report=True, report_switch="Include the Hessian section (the slowest analysis).",
                split=Split(plan=plan, part=part, combine=combine), estimate=estimate),  # split: one checkpoint a part
)

# the per-checkpoint solvers (analyzer/curvature/) import torch: compute.part imports them when a Hessian is computed
__all__ = ["ANALYSIS", "HessianParams", "HessianResult", "select_checkpoints"]
