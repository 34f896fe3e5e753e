"""Spectral bias on the sphere (Cao et al.): per spherical-harmonic degree, the residual over training, its
convergence rate, and the NTK eigenvalue of the degree (closed form for a one-hidden-layer ReLU net, and the run's
empirical kernel at its first checkpoint)."""

from analyzer.analyses.harmonics.compute import compute, convergence_rate, degree_table
from analyzer.analyses.harmonics.params import HarmonicsParams
from analyzer.analyses.harmonics.result import HarmonicsResult
from analyzer.analyses.harmonics.section import section
from analyzer.core.registry import Analysis, Tags

ANALYSIS = Analysis(
    name="harmonics", params=HarmonicsParams, result=HarmonicsResult, compute=compute, version="2",
    summary="residual per spherical-harmonic degree over training, its convergence rate and the degree's NTK "
            "eigenvalue", section=section, tags=Tags(reads="checkpoints", run_kind="harmonics"),
)

# the closed-form NTK (ntk_reference.py) imports scipy: import it from its module when needed
__all__ = ["ANALYSIS", "HarmonicsParams", "HarmonicsResult", "compute", "convergence_rate", "degree_table", "section"]
