"""The built-in analyses, one folder each. Adding an analysis = its folder analyzer/analyses/<name>/ (whose
__init__.py defines ANALYSIS) plus its name on one line below; the report shows sections in this order.

Importing this package (which `import analyzer` does) declares them to the registry; each folder is imported on
the registry's first use, not here, so that `import analyzer` and `analyze --help` stay fast."""

import importlib

from analyzer.core import registry

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


def _load(name: str) -> registry.Analysis:
    return importlib.import_module(f"{__name__}.{name}").ANALYSIS


registry.declare(BUILTIN, _load)
