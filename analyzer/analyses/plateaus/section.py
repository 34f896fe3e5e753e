"""The plateaus section of a report: the loss figure, the plateaus of both methods and the loss drops."""

from __future__ import annotations

from analyzer.sections.markdown import image, markdown_table, opening
from analyzer.sections.run_analyses import MSE_LABEL, loss_name, loss_of

SHOWN_COLUMNS = ["method", "start_step", "end_step", "duration", "mean_log10_loss", "slope"]


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    from analyzer.analyses.plateaus.figures import loss_figure  # matplotlib: only when a report is drawn
    from analyzer.sections.figures import plateau_intervals

    heading = "#" * level
    plateaus, lines = opening(analyses, "plateaus", "Loss and plateaus", level)
    if plateaus is None:
        return lines
    name = loss_name(analyses)
    fig = loss_figure(*loss_of(analyses), plateau_intervals(plateaus), plateaus.change_points,
                      title=f"{name.capitalize()} — {analyses.label}", loss_drop_steps=plateaus.loss_drop_steps(),
                      label=name)
    lines += image(figs, f"{prefix}loss.png", fig,
                   f"{'training loss' if name == MSE_LABEL else name} of {analyses.label}")
    if name != MSE_LABEL:  # the user's own loss: not the MSE the Hessian and the NTK take
        lines += [f"Loss analysed: {name}, as logged by the user (the Hessian and NTK sections use the MSE "
                  "mean((f(x) - y)^2) at the checkpoints).", ""]
    lines += [plateaus.headline() + ".", ""]
    shown = plateaus.segments[plateaus.segments.is_plateau.astype(bool)]
    lines += [f"{heading}# Plateaus", ""] + markdown_table(shown[SHOWN_COLUMNS].reset_index(drop=True))
    if len(plateaus.loss_drops):
        lines += [f"{heading}# Loss drops after plateaus", "",
                  "Change-point method: each row is a plateau's end, the drop after it (its midpoint and 10-90 % "
                  "width) and where the next plateau starts (none: the drop is measured to the run's last loss). A "
                  "logistic fitted to each drop (`fitted`) places the plateau edges at its 10/90 % points; where "
                  "lines fit the drop better the corners are kept.", ""]
        lines += markdown_table(plateaus.loss_drops_display())
    return lines
