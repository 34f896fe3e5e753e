"""The comparison section of a report on several runs: each analysis's tables side by side (its `compare`), the
training losses overlaid, then each analysis's comparison figures."""

from __future__ import annotations

from analyzer.core.registry import get, names
from analyzer.sections.figures import loss_overlay_figure
from analyzer.sections.markdown import image
from analyzer.sections.run_analyses import MSE_LABEL, RunAnalyses, loss_name, loss_of


def comparison_section(runs: list[RunAnalyses], pooled_of, figs: dict) -> list[str]:
    """Every registered comparison, tables first, in their `Compare.order`.

    Args:
        pooled_of: analysis name -> `pooled(**params)`, its pooled result over these runs (analyses with a pool).
    """
    compares = sorted(((get(name).hooks.compare, name) for name in names() if get(name).hooks.compare is not None),
                      key=lambda pair: pair[0].order)
    lines = ["## Comparison", ""]
    for compare, name in compares:
        if compare.tables is not None:
            lines += compare.tables(runs, pooled_of(name))
    curves = {r.label + ("" if loss_name(r) == MSE_LABEL else f" ({loss_name(r)})"): loss_of(r) for r in runs}
    lines += image(figs, "compare-loss.png", loss_overlay_figure(curves), "training loss of all runs")
    for compare, _ in compares:
        if compare.figures is not None:
            lines += compare.figures(runs, figs)
    return lines
