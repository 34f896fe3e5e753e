"""Spectral bias on the sphere (seed 001): per spherical-harmonic degree, the residual over training, its
convergence rate, and the NTK eigenvalue of the degree.

Registration (phase 2, once the analyzer core of issue 12 has landed; then ntk_eigenvalue comes from the
empirical NTK analysis when it is available, the closed form otherwise)::

    ANALYSIS = Analysis(name="harmonics", params=HarmonicsParams, result=HarmonicsResult, compute=compute,
                        version="1", summary="residual per spherical-harmonic degree, its rate, NTK eigenvalues",
                        requires=(), section=section, needs_run=True)
"""

from analyzer.analyses.harmonics.compute import compute, convergence_rate, degree_table
from analyzer.analyses.harmonics.ntk_reference import relu_ntk_eigenvalues, relu_ntk_kernel
from analyzer.analyses.harmonics.params import HarmonicsParams
from analyzer.analyses.harmonics.result import HarmonicsResult
from analyzer.analyses.harmonics.section import section

__all__ = ["HarmonicsParams", "HarmonicsResult", "compute", "convergence_rate", "degree_table",
           "relu_ntk_eigenvalues", "relu_ntk_kernel", "section"]
