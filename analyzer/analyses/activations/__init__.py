"""Activation spectra (seed 002): normalised singular values and principal components of A = eta(sigma (x - b^T)).

Needs no run file. Registration (phase 2, once the analyzer core of issue 12 has landed)::

    ANALYSIS = Analysis(name="activations", params=ActivationsParams, result=ActivationsResult, compute=compute,
                        version="1", summary="spectra of A = eta(sigma (x - b^T)) for eight activations",
                        requires=(), section=section, needs_run=False)
"""

from analyzer.analyses.activations.compute import ACTIVATIONS, activation_matrix, compute, spectrum_and_components
from analyzer.analyses.activations.params import ActivationsParams
from analyzer.analyses.activations.result import ActivationsResult
from analyzer.analyses.activations.section import section

__all__ = ["ACTIVATIONS", "ActivationsParams", "ActivationsResult", "activation_matrix", "compute", "section",
           "spectrum_and_components"]
