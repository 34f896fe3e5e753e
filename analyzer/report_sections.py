"""The sections of a report, each rendered to Markdown lines (figures collected into a dict)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analyzer import figures
from analyzer.registry import ANALYZER_VERSION, REGISTRY
from analyzer.report import RunAnalyses, markdown_table, params_block


REPRODUCIBILITY_NOTE = (
    "The analysis reproduces exactly from these run files (the fingerprints identify them). Retraining "
    "reproduces them bit for bit only on the same machine: CPU float kernels round differently on another CPU, "
    "and the default study trained from the same code and seeds on two machines learned deep's 7 Hz at step "
    "3,976 on one and 2,833 on the other (15 Hz at 8,588 and 5,521), found two plateaus in deep on one and one "
    "on the other, and gave a pooled p-value of 0.442 and 0.429. Read single-run learned steps and plateau "
    "counts as one draw, not as a portable constant.")


def reproduce_section(runs: list[RunAnalyses], options) -> list[str]:
    table = pd.DataFrame({"run": [r.label for r in runs], "file": [str(r.path) for r in runs],
                          "fingerprint": [r.fingerprint for r in runs], "status": [r.status for r in runs],
                          "steps": [r.n_steps for r in runs]})
    used = {name: values for name, values in options.overrides.items() if values}
    defaults = params_block(runs[0])
    for name, values in used.items():
        defaults[name] = {**defaults.get(name, {}), **values}
    command = "analyze report " + " ".join(str(r.path) for r in runs) + " -o OUT"
    lines = ["## Reproduce", "", f"Analyzer version {ANALYZER_VERSION}. Command: `{command}`"
             + (" (with the parameter overrides below)" if used else "") + ".", ""]
    lines += markdown_table(table)
    lines += [REPRODUCIBILITY_NOTE, ""]
    lines += ["<details><summary>Analysis parameters</summary>", "", "```json",
              json.dumps(defaults, indent=2, sort_keys=True), "```", "", "</details>", ""]
    return lines


def config_table(run: RunAnalyses) -> pd.DataFrame:
    c, m, t = run.config, run.config.get("model", {}), run.target
    if c.get("source") in ("import", "logger"):
        return _foreign_config_table(run)
    shape = (f"{m.get('depth')} hidden x {m.get('width')} {m.get('activation')}" if m.get("kind") == "mlp"
             else f"{m.get('kind')} (K={m.get('features')}, decay {m.get('feature_decay')}, u0 {m.get('init_scale')})")
    rows = [("preset", c.get("preset")), ("model", shape), ("init", m.get("init")),
            ("optimizer", f"{c.get('optimizer')}, lr {c.get('lr')}"), ("epochs", _number(c.get("epochs"), ",")),
            ("seed", c.get("seed")), ("dtype", c.get("dtype")),
            ("target", ", ".join(f"{_number(a, 'g')} sin(2π {_number(f, 'g')} x)"
                                 for f, a in zip(t.get("freqs_hz") or [], t.get("amps") or []))),
            ("training points", t.get("n_train")), ("eval grid", t.get("n_eval") or t.get("n_train")),
            ("predictions every", _steps(c.get("pred_every"))), ("checkpoints every", _steps(c.get("ckpt_every")))]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype(str)


def _number(value, spec: str) -> str:
    """`value` formatted as a number, or as it is stored when a damaged config holds something else."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _foreign_config_table(run: RunAnalyses) -> pd.DataFrame:
    """A run imported by `train import` or logged by RunWriter.for_model from another training loop."""
    c, m, t = run.config, run.config.get("model", {}), run.target
    model = (f"{m.get('constructor')}(**{json.dumps(m.get('constructor_kwargs') or {})})" if m.get("kind") == "import"
             else json.dumps({k: m.get(k) for k in ("kind", "depth", "width", "activation")}))
    origin = (f"train import of {c.get('import', {}).get('folder')}" if c.get("source") == "import"
              else "RunWriter.for_model in the user's training loop")
    freqs = ", ".join(f"{f:g} Hz" for f in t.get("freqs_hz", [])) or "none"
    rows = [("source", origin), ("model", model), ("dtype", c.get("dtype")),
            ("target", f"{t.get('kind')}; frequencies tracked: {freqs} ({t.get('freqs_source')})"),
            ("training points", t.get("n_train")), ("eval grid", t.get("n_eval"))]
    if c.get("user"):
        rows.append(("user config", json.dumps(c["user"], sort_keys=True)))
    return pd.DataFrame(rows, columns=["setting", "value"]).astype(str)


def _steps(every) -> str:
    return "step" if every == 1 else f"{every} steps"


def _intervals(plateaus) -> list[tuple[int, int]]:
    if plateaus is None:
        return []
    frame = plateaus.plateaus("changepoint")
    return list(zip(frame.start_step.astype(int), frame.end_step.astype(int)))


def _image(figs: dict, name: str, fig, alt: str) -> list[str]:
    figs[name] = fig
    return [f"![{alt}]({name})", ""]


def run_sections(run: RunAnalyses, figs: dict, prefix: str, level: int, heading: str | None) -> list[str]:
    h = "#" * level
    lines = [heading, ""] if heading else []
    lines += [f"{h} Run configuration", ""] + markdown_table(config_table(run))
    plateaus, spectrum = run.results.get("plateaus"), run.results.get("spectrum")
    lines += _loss_section(run, plateaus, figs, prefix, h)
    lines += _spectrum_section(run, spectrum, plateaus, figs, prefix, h)
    lines += _correlation_section(run.results.get("correlate"), run.notes.get("correlate"), h)
    if "hessian" in run.results or "hessian" in run.notes:
        lines += _hessian_section(run, plateaus, figs, prefix, h)
    for name, result in run.results.items():
        if name not in ("plateaus", "spectrum", "correlate", "hessian") and result is not None:
            lines += _generic_section(name, result, h)
    return lines


def _missing(run: RunAnalyses, name: str) -> list[str]:
    return [f"*{name} not available: {run.notes.get(name, 'not computed')}*", ""]


def _loss_section(run, plateaus, figs, prefix, h) -> list[str]:
    lines = [f"{h} Loss and plateaus", ""]
    if plateaus is None:
        return lines + _missing(run, "plateaus")
    fig = figures.loss_figure(np.arange(run.n_steps), _loss_of(run), _intervals(plateaus),
                              plateaus.change_points, title=f"Training loss — {run.label}",
                              escape_steps=plateaus.escape_steps())
    lines += _image(figs, f"{prefix}loss.png", fig, f"training loss of {run.label}")
    lines += [plateaus.headline() + ".", ""]
    shown = plateaus.segments[plateaus.segments.is_plateau.astype(bool)]
    columns = ["method", "start_step", "end_step", "duration", "mean_log10_loss", "slope"]
    lines += [f"{h}# Plateaus", ""] + markdown_table(shown[columns].reset_index(drop=True))
    if len(plateaus.transitions):
        lines += [f"{h}# Loss drops after plateaus", "",
                  "Change-point method: a logistic fitted to each drop (`fitted`) places the plateau edges at its "
                  "10/90 % points; where lines fit the drop better the corners are kept.", ""]
        lines += markdown_table(plateaus.transitions)
    return lines


def _loss_of(run: RunAnalyses) -> np.ndarray:
    from analyzer.run import open_run

    with open_run(run.path) as opened:
        return opened.loss[: run.n_steps]


def _spectrum_section(run, spectrum, plateaus, figs, prefix, h) -> list[str]:
    lines = [f"{h} Spectral dynamics", ""]
    if spectrum is None:
        return lines + _missing(run, "spectrum")
    lines += _image(figs, f"{prefix}spectrum.png", figures.spectral_heatmap_figure(
        spectrum, _full_spectrum(run, spectrum), title=f"Learned fraction of each target frequency — {run.label}"),
        f"spectral dynamics of {run.label}")
    lines += [f"{h} Frequency learning", ""]
    lines += _image(figs, f"{prefix}rel_error.png", figures.rel_error_figure(
        spectrum, _intervals(plateaus), title=f"Relative error per frequency — {run.label}"),
        f"relative error per frequency of {run.label}")
    lines += [spectrum.headline() + ".", ""] + markdown_table(spectrum.learning)
    return lines


def _full_spectrum(run: RunAnalyses, spectrum):
    """The DFT of the analysed prediction steps up to the band the heatmap shows, recomputed (never cached)."""
    from analyzer.run import open_run
    from analyzer.spectrum import amplitude_spectrum

    with open_run(run.path) as opened:
        return amplitude_spectrum(opened, max_hz=figures.heatmap_max_hz(spectrum), n_rows=len(spectrum.steps))


def _correlation_section(result, note, h) -> list[str]:
    lines = [f"{h} Frequency jumps vs escapes from plateaus", ""]
    if result is None:
        return lines + [f"*correlation not available: {note or 'not computed'}*", ""]
    lines += [f"**{result.conclusion}**", ""]
    for title, frame in result.tables().items():
        lines += [f"*{title}*", ""] + markdown_table(frame)
    return lines


def _hessian_section(run, plateaus, figs, prefix, h) -> list[str]:
    result = run.results.get("hessian")
    lines = [f"{h} Hessian and saddle index", ""]
    if result is None:
        return lines + _missing(run, "hessian")
    if not result.table.empty:
        lines += _image(figs, f"{prefix}hessian.png", figures.hessian_figure(
            result.table, result.n_params, _intervals(plateaus), title=f"Hessian at checkpoints — {run.label}"),
            f"Hessian eigenvalues of {run.label}")
    lines += [result.headline() + ".", ""]
    for frame in result.tables().values():
        lines += markdown_table(frame)
    return lines


def _generic_section(name: str, result, h) -> list[str]:
    lines = [f"{h} {name.capitalize()}", "", REGISTRY[name].summary + ".", ""]
    headline = getattr(result, "headline", None)
    if callable(headline):
        lines += [headline() + ".", ""]
    for title, frame in (result.tables() if callable(getattr(result, "tables", None)) else {}).items():
        lines += [f"*{title}*", ""] + markdown_table(frame)
    return lines


# ---- several runs -----------------------------------------------------------------------------------

def _target_key(run: RunAnalyses) -> str:
    t = run.target
    return json.dumps({k: t.get(k) for k in ("freqs_hz", "amps", "phases", "n_train", "n_eval")}, sort_keys=True)


def comparison_section(runs: list[RunAnalyses], pooled, figs: dict) -> list[str]:
    lines = ["## Comparison", ""]
    same_target = len({_target_key(r) for r in runs}) == 1
    if not same_target:
        lines += ["> Targets differ between these runs: learned steps are compared only at the frequencies "
                  "they share, and heatmaps are shown per run, not as a like-for-like comparison.", ""]
    lines += ["### Learned step per frequency", ""] + markdown_table(_learned_table(runs, same_target))
    lines += ["### Plateaus per run", ""] + markdown_table(_plateau_counts(runs))
    lines += ["### Pooled correlation", ""]
    for result in pooled:
        lines += [f"**{result.conclusion}**", ""] + markdown_table(result.tables()["permutation test"])
    curves = {r.label: (np.arange(r.n_steps), _loss_of(r)) for r in runs}
    lines += _image(figs, "compare-loss.png", figures.loss_overlay_figure(curves), "training loss of all runs")
    spectra = {r.label: r.results["spectrum"] for r in runs if r.results.get("spectrum") is not None}
    if spectra:
        lines += _image(figs, "compare-heatmaps.png", figures.heatmap_grid_figure(spectra),
                        "learned fraction of each target frequency, per run")
    return lines


def _learned_table(runs: list[RunAnalyses], same_target: bool) -> pd.DataFrame:
    per_run = {}
    for run in runs:
        spectrum = run.results.get("spectrum")
        if spectrum is not None:
            per_run[run.label] = dict(zip(spectrum.learning.freq_hz.astype(float), spectrum.learning.learned_step))
    if not per_run:
        return pd.DataFrame()
    freqs = sorted(set.intersection(*(set(v) for v in per_run.values())) if not same_target
                   else set.union(*(set(v) for v in per_run.values())))
    frame = pd.DataFrame({"frequency (Hz)": [f"{f:g}" for f in freqs]})
    for label, learned in per_run.items():
        frame[label] = [float(learned.get(f, np.nan)) for f in freqs]
    return frame


def _plateau_counts(runs: list[RunAnalyses]) -> pd.DataFrame:
    rows = []
    for run in runs:
        result = run.results.get("plateaus")
        if result is None:
            rows.append((run.label, np.nan, np.nan, np.nan))
            continue
        rows.append((run.label, len(result.plateaus("changepoint")), len(result.plateaus("gradient")),
                     len(result.change_points)))
    return pd.DataFrame(rows, columns=["run", "plateaus (change points)", "plateaus (gradient)", "change points"])
