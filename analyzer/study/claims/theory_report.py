"""The report section of the rate claim (Cao et al.): the ratio of observed to predicted rates by width, and the
figures of rates, ratios and the networks' loss beside their twins'."""

from __future__ import annotations

import pandas as pd


def rate_section(study, result: dict, figs: dict) -> list[str]:
    from analyzer.sections.markdown import image, markdown_table
    from analyzer.study.claims.theory_figures import rate_figure, ratio_figure, twin_loss_figure

    runs: pd.DataFrame = result["runs"]
    columns = {"median ratio": "ratio, eigendirections", "median ratio, degrees, closed form": "ratio, degrees (closed)",
               "median ratio, degrees, empirical": "ratio, degrees (empirical)",
               "eigendirections": "spread, eigendirections", "degrees, closed form": "spread, degrees (closed)"}
    table = (runs.groupby(["series", "role", "width"])
             .agg(runs=("run", "size"), moving=("moving directions", "median"),
                  **{label: (column, "median") for column, label in columns.items()}).reset_index())
    lines = ["## Rates along the kernel's eigenfunctions", "",
             "Per run (`analyze ntk`, kernel at step 0): the residual's observed decay rate along each moving "
             "eigendirection of K_0 (linearised GD decays it by at least 0.1 e-folds over the run; its initial "
             "component at least 1e-3 of the residual) against linearised GD's -ln|1 - a_eff lambda|; per target "
             "degree (`analyze harmonics`) against the closed-form kernel of an infinitely wide net and against the "
             "run's own kernel at init. Ratio: median observed / predicted over a run's directions (or degrees); "
             "spread: median |log ratio|. Medians over seeds; role twin: the linearised twins.", ""]
    lines += markdown_table(table)
    lines += ["Per eigendirection a twin is exact by construction (its residual is (I - a_eff K_0)^t r_0), and the "
              "table shows it is measured so. Per degree it need not be: at N training points the sampled harmonics "
              "of a degree are not eigenvectors of K_0, so once the fast directions have decayed the slow ones left "
              "in the residual still project on the low degrees, and the fitted degree rate falls below the degree's "
              "mean eigenvalue's rate even on a twin. The twins' per-degree ratio is the yardstick for the "
              "networks'.", ""]
    points = result["points"]
    if points:
        lines += image(figs, "theory-rates.png", rate_figure(points), "observed rate against eigenvalue per width")
        lines += image(figs, "theory-ratio.png", ratio_figure(points), "observed / predicted rate against eigenvalue")
    members = [(name, run, None) for run in study.network_runs + study.twin_runs
               for path, (name, _, _) in points.items() if path == run.path]
    if any(run.role == "twin" for _, run, _ in members):
        lines += image(figs, "theory-twin-loss.png", twin_loss_figure(members),
                       "median loss of the networks and of their twins per width")
    return lines
