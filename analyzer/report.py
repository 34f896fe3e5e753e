"""Markdown reports with PNG figures for one run or several side by side.

`build_report` computes (or loads from each run's cache) the analyses and renders Markdown to a string
with its figures in memory; `write_report` is the trivial, separate step that writes them to a folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analyzer import figures
from analyzer.api import analyze
from analyzer.errors import BadInputError
from analyzer.registry import ANALYZER_VERSION, REGISTRY, get, make_params, names, params_dict
from analyzer.run import Run, open_run

BUILTIN = ("plateaus", "spectrum", "correlate", "hessian")
REPORT_NAME = "REPORT.md"
MIN_REPORT_STEPS = 2  # the loss curve of fewer steps has no plateaus, and its predictions no spectrum


@dataclass
class ReportOptions:
    """What to compute and how: per-analysis parameter overrides, cache use, the Hessian section."""

    use_cache: bool = True
    hessian: bool = True
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # analysis name -> parameters
    title: str = ""


@dataclass
class Report:
    markdown: str
    figures: dict[str, Any]  # file name -> matplotlib Figure
    missing: list[str] = field(default_factory=list)  # "run: analysis (why)" for each section left out


@dataclass
class RunAnalyses:
    """Everything the report shows about one run."""

    label: str
    path: Path
    fingerprint: str
    status: str
    n_steps: int
    config: dict
    target: dict
    results: dict[str, Any]  # analysis name -> result (missing when it could not be computed)
    notes: dict[str, str]  # analysis name -> why it is missing


def labels_for(paths: list[Path]) -> list[str]:
    """Short unique labels: file stems, with the parent folder added where stems clash."""
    stems = [p.name[:-3] if p.name.endswith(".h5") else p.name for p in paths]
    return [f"{p.parent.name}/{s}" if stems.count(s) > 1 else s for p, s in zip(paths, stems)]


def analyze_run(path: Path, label: str, options: ReportOptions, progress=None) -> RunAnalyses:
    wanted = [n for n in BUILTIN if n != "correlate" and (n != "hessian" or options.hessian)]
    with open_run(path) as run:
        results, notes = {}, {}
        for name in wanted:
            if progress:
                progress(f"{label}: {name}")
            results[name], notes[name] = _one(run, name, options)
        results["correlate"], notes["correlate"] = _one(run, "correlate", options)
        for name in names():  # later analyses plug in: shown when their result is already cached
            if name not in BUILTIN:
                cached = _cached_only(run, name, options)
                if cached is not None:
                    results[name] = cached
        return RunAnalyses(label, path, run.fingerprint, run.status, run.n_steps, run.config, run.target,
                           results, {k: v for k, v in notes.items() if v})


def _one(run: Run, name: str, options: ReportOptions) -> tuple[Any, str]:
    from analyzer.errors import AnalysisFailed

    try:
        return analyze(run, name, use_cache=options.use_cache, **options.overrides.get(name, {})), ""
    except (BadInputError, AnalysisFailed) as err:
        return None, str(err)


def _cached_only(run: Run, name: str, options: ReportOptions):
    from analyzer.cache import Cache, cache_key, default_cache_path

    if not options.use_cache:
        return None
    analysis = REGISTRY[name]
    try:
        params = make_params(analysis, **options.overrides.get(name, {}))
    except BadInputError:
        return None
    store = Cache(default_cache_path(run.path))
    return store.load(analysis, cache_key(analysis, params, run.fingerprint), analysis.result)


def build_report(paths: list[Path | str], options: ReportOptions | None = None, progress=None) -> Report:
    """Analyze the runs and render the report to a Markdown string plus in-memory figures."""
    options = options or ReportOptions()
    paths = [Path(p) for p in paths]
    if not paths:
        raise BadInputError("report needs at least one run file")
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise BadInputError("the same run file is given twice")
    _validate_overrides(options)
    for path in paths:  # refuse before any analysis runs
        with open_run(path) as run:
            run.require_steps(MIN_REPORT_STEPS, "a report")
    runs = [analyze_run(p, label, options, progress) for p, label in zip(paths, labels_for(paths))]
    pooled = []
    if len(runs) > 1:
        from analyzer.correlate import REFERENCES, correlate_runs

        if progress:
            progress("pooled correlation")
        chosen = {**options.overrides.get("correlate", {})}
        first = chosen.get("reference") or REFERENCES[0]
        # the configured reference first, then the other one: seed 000's claim is about edges, escapes are
        # what the known-answer runs show to be the point a jump sits at (analyzer/correlate.py)
        for reference in (first, *[r for r in REFERENCES if r != first]):
            pooled.append(correlate_runs(paths, use_cache=options.use_cache, **{**chosen, "reference": reference}))
    return render(runs, pooled, options)


def _validate_overrides(options: ReportOptions) -> None:
    for name, values in options.overrides.items():
        make_params(get(name), **values)


# ---- rendering ------------------------------------------------------------------------------------

def render(runs: list[RunAnalyses], pooled, options: ReportOptions) -> Report:
    from analyzer.report_sections import comparison_section, reproduce_section, run_sections

    figs: dict[str, Any] = {}
    single = len(runs) == 1
    title = options.title or (f"Report: {runs[0].label}" if single else f"Report: {len(runs)} runs")
    lines = [f"# {title}", ""]
    lines += [f"Generated by `analyzer` {ANALYZER_VERSION} from {len(runs)} run file(s), without retraining.", ""]
    for run in runs:
        if run.status != "complete":
            lines += [f"> **{run.label} is partial, {run.n_steps} steps** (status `{run.status}`): "
                      "results describe the steps written so far.", ""]
    lines += reproduce_section(runs, options)
    if not single:
        lines += comparison_section(runs, pooled, figs)
    for run in runs:
        lines += run_sections(run, figs, prefix="" if single else f"{_slug(run.label)}-", level=2 if single else 3,
                              heading=None if single else f"## Run: {run.label}")
    missing = [f"{run.label}: {name} ({note})" for run in runs for name, note in run.notes.items()]
    return Report("\n".join(lines).rstrip() + "\n", figs, missing)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in label)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> list[str]:
    """A pipe table; floats to `digits` significant digits, NaN as a dash."""
    if frame.empty:
        return ["*(none)*", ""]
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind in "iuf" else "---" for c in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *rows, ""]


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "–"
        return f"{int(value):,}" if float(value).is_integer() and abs(value) < 1e15 else f"{value:.{digits}g}"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return str(value).replace("|", "\\|")


def params_block(run: RunAnalyses) -> dict[str, dict]:
    """The parameters each analysis ran with (as stored in the results' cache keys)."""
    out = {}
    for name in run.results:
        if run.results[name] is not None and name in REGISTRY:
            out[name] = params_dict(make_params(REGISTRY[name]))
    return out


def check_output(out_dir: Path | str, overwrite: bool) -> None:
    """Refuse an existing report (unless overwrite) or an unwritable folder before any analysis runs."""
    from trainer.runfile import unwritable_reason

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir} exists and is not a folder")
    if (out_dir / REPORT_NAME).exists() and not overwrite:
        raise BadInputError(f"{out_dir / REPORT_NAME} already exists; pass --overwrite to replace the report "
                            "(other files are kept)")
    reason = unwritable_reason(out_dir)
    if reason:
        raise BadInputError(f"cannot write the report to {out_dir}: {reason}")


def write_report(report: Report, out_dir: Path | str, overwrite: bool = False) -> list[Path]:
    """Write REPORT.md and the figures; refuses an existing report unless `overwrite`, deletes nothing."""
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    target = out_dir / REPORT_NAME
    check_output(out_dir, overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, fig in report.figures.items():
            fig.savefig(out_dir / name, dpi=110)
            plt.close(fig)
            written.append(out_dir / name)
        target.write_text(report.markdown)
    except OSError as err:
        raise BadInputError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None
    return [*written, target]


def json_summary(report: Report) -> dict:
    return {"report": REPORT_NAME, "figures": sorted(report.figures), "markdown_chars": len(report.markdown),
            "not_available": report.missing}


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
