"""The report's figure of the Hessian along training: the log-spaced grid (`--at grid`), when a result is cached."""

from __future__ import annotations

GRID_PER_DECADE = 4  # the grid `analyze study` computes (study.py: its jobs); the report reads it when cached


def grid_lines(analyses, figs: dict, prefix: str) -> list[str]:
    """The grid figure and a line on it, or a line saying how to get it (the report does not compute the grid)."""
    from analyzer.analyses.hessian.figures import hessian_figure
    from analyzer.core.runner import cached_result
    from analyzer.sections.figures import plateau_intervals
    from analyzer.sections.markdown import image
    from analyzer.sections.run_analyses import opened_file

    try:
        with opened_file(analyses) as opened:
            grid = cached_result(opened, "hessian", cache=analyses.cache, at="grid", per_decade=GRID_PER_DECADE)
    except Exception:  # noqa: BLE001 -- a figure that cannot be read is left out, the report goes on
        grid = None
    if grid is None or grid.table.empty:
        return [f"*The Hessian along training (log-spaced grid) is shown once computed: `analyze hessian RUN --at grid "
                f"--per-decade {GRID_PER_DECADE}` or `analyze study`.*", ""]
    cost = grid.table["cost_gradients"].median() if "cost_gradients" in grid.table else float("nan")
    lines = image(figs, f"{prefix}hessian-grid.png", hessian_figure(
        grid.table, grid.n_params, plateau_intervals(analyses.results.get("plateaus")),
        title=f"Hessian along training ({GRID_PER_DECADE} checkpoints per decade) — {analyses.label}"),
        f"Hessian along training of {analyses.label}")
    return lines + [f"Log-spaced grid: {len(grid.table)} checkpoints, each the cost of ~{cost:,.0f} full-batch "
                    "gradients (median).", ""]
