"""Activation spectra (Lucey): normalised singular values and principal components of A = eta(sigma (x - b^T)).

Needs no run file: `analyze activations [--sigma S] [--n N] [--json]`, `analyzer.activations(None)`.
"""

from analyzer.analyses.activations.compute import (ACTIVATIONS, activation_matrix, compute,
                                                   singular_values_and_components)
from analyzer.analyses.activations.params import ActivationsParams
from analyzer.analyses.activations.result import ActivationsResult
from analyzer.analyses.activations.section import section
from analyzer.core.registry import Analysis, Tags

ANALYSIS = Analysis(
    name="activations", params=ActivationsParams, result=ActivationsResult, compute=compute, version="2",
    summary="normalised singular-value spectra and principal components of A = eta(sigma (x - b^T)) for eight "
            "activations", section=section, tags=Tags(reads="nothing", fast_params={"n": 200}),
)

__all__ = ["ACTIVATIONS", "ANALYSIS", "ActivationsParams", "ActivationsResult", "activation_matrix", "compute",
           "section", "singular_values_and_components"]
