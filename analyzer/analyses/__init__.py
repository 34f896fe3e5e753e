"""The built-in analyses, one folder each. Adding an analysis = its folder analyzer/analyses/<name>/ (whose
__init__.py defines ANALYSIS) plus its name on one line below; the report shows sections in this order."""

BUILTIN = (
    "plateaus",
    "spectrum",
    "correlate",
    "hessian",
    "escape",
    "score",
    "activations",
    "harmonics",
    "ntk",
    "mask",
)
