"""What the spectrum adds to `analyze study` (its StudyHooks): the heatmaps of each group's median seed run."""

from __future__ import annotations


def figures(study, figs: dict) -> list[str]:
    """Per group, the spectral heatmap of the seed run whose learned steps are closest to the group's median."""
    from analyzer.errors import AnalyzerError
    from analyzer.analyses.spectrum.figures import heatmap_grid_figure
    from analyzer.report.markdown import image
    from analyzer.study.analysis import median_runs

    spectra = {}
    for group, run in median_runs(study).items():
        try:
            spectra[f"{group}: {run.label} (median seed)"] = study.run_result(run.path, "spectrum")
        except (AnalyzerError, OSError):
            continue
    if not spectra:
        return []
    return (["## Median-seed spectral heatmaps", "",
             "Per group, the seed run whose learned steps are closest to the group's median (sum of distances in "
             "log10 step).", ""]
            + image(figs, "median-heatmaps.png", heatmap_grid_figure(spectra), "heatmaps of the median seeds"))
