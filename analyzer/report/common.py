"""The report's sections that belong to no analysis: how to reproduce it, the run's configuration, and the
generic section of an analysis that brings none of its own."""

from __future__ import annotations

import json

import pandas as pd

from analyzer.core.registry import ANALYZER_VERSION, get
from analyzer.sections.markdown import markdown_table
from analyzer.sections.run_analyses import RunAnalyses

REPRODUCIBILITY_NOTE = (
    "The analysis reproduces exactly from these run files (the fingerprints identify them). Retraining "
    "reproduces them bit for bit only on the same machine: CPU float kernels round differently on another CPU, "
    "and the default study trained from the same code and seeds on three machines learned deep's 7 Hz at step "
    "3,976, 2,833 and 2,343 (15 Hz at 8,588, 5,521 and 5,957), found one or two plateaus in deep, and gave a "
    "pooled p-value of 0.442, 0.429 and 0.504. Read single-run learned steps and plateau "
    "counts as one draw, not as a portable constant.")


def reproduce_section(runs: list[RunAnalyses], options, params_block: dict[str, dict]) -> list[str]:
    """The run files with their fingerprints, the command and every analysis parameter used.

    Args:
        params_block: analysis name -> default parameters of each analysis shown; the overrides go on top.
    """
    table = pd.DataFrame({"run": [r.label for r in runs], "file": [str(r.path) for r in runs],
                          "fingerprint": [r.fingerprint for r in runs], "status": [r.status for r in runs],
                          "steps": [r.n_steps for r in runs]})
    used = {name: values for name, values in options.overrides.items() if values}
    shown = dict(params_block)
    for name, values in used.items():
        shown[name] = {**shown.get(name, {}), **values}
    command = "analyze report " + " ".join(str(r.path) for r in runs) + " -o OUT"
    lines = ["## Reproduce", "", f"Analyzer version {ANALYZER_VERSION}. Command: `{command}`"
             + (" (with the parameter overrides below)" if used else "") + ".", ""]
    lines += markdown_table(table)
    lines += [REPRODUCIBILITY_NOTE, ""]
    lines += ["<details><summary>Analysis parameters</summary>", "", "```json",
              json.dumps(shown, indent=2, sort_keys=True), "```", "", "</details>", ""]
    return lines


def config_table(run: RunAnalyses) -> pd.DataFrame:
    config, model, target = run.config, run.config.get("model", {}), run.target
    if config.get("source") in ("import", "logger"):
        return _foreign_config_table(run)
    if model.get("kind") == "mlp":
        shape = f"{model.get('depth')} hidden x {model.get('width')} {model.get('activation')}"
    else:
        shape = (f"{model.get('kind')} (K={model.get('features')}, decay {model.get('feature_decay')}, "
                 f"u0 {model.get('init_scale')})")
    if config.get("linearize"):  # the run trained the model's linearised twin (docs/run-file.md)
        shape = f"linearised twin of {shape}"
    terms = zip(target.get("freqs_hz") or [], target.get("amps") or [])
    rows = [("preset", config.get("preset")), ("model", shape), ("init", model.get("init")),
            ("optimizer", f"{config.get('optimizer')}, lr {config.get('lr')}"),
            ("epochs", _number(config.get("epochs"), ",")), ("seed", config.get("seed")),
            ("dtype", config.get("dtype")),
            ("target", _harmonics_target(target) if target.get("kind") == "harmonics" else
             ", ".join(f"{_number(amp, 'g')} sin(2π {_number(freq, 'g')} x)" for freq, amp in terms)),
            ("training points", target.get("n_train")), ("eval grid", target.get("n_eval") or target.get("n_train")),
            ("predictions every", _steps(config.get("pred_every"))),
            ("checkpoints every", _steps(config.get("ckpt_every")))]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype(str)


def _harmonics_target(target: dict) -> str:
    """A spherical-harmonic target: amplitude x a random unit-norm harmonic of each degree, on S^(d-1)."""
    terms = ", ".join(f"{_number(amp, 'g')} Y_{degree}" for degree, amp in zip(target.get("degrees") or [],
                                                                            target.get("amps") or []))
    return f"{terms} on S^{_number(target.get('input_dim', 0) - 1, 'd')} (target seed {target.get('seed')})"


def _number(value, spec: str) -> str:
    """`value` formatted as a number, or as it is stored when a damaged config holds something else."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _foreign_config_table(run: RunAnalyses) -> pd.DataFrame:
    """A run imported by `train import` or logged by RunWriter.for_model from another training loop: the model
    in its user's terms (constructor, kwargs, layer shapes), the optimizer when known and which loss was logged."""
    from analyzer.io.describe import describe
    from analyzer.sections.run_analyses import opened_file

    config, target = run.config, run.target
    origin = (f"train import of {config.get('import', {}).get('folder')}" if config.get("source") == "import"
              else "RunWriter.for_model in the user's training loop")
    with opened_file(run) as opened:
        described = describe(opened)
    freqs = ", ".join(f"{f:g} Hz" for f in target.get("freqs_hz", [])) or "none"
    rows = [("source", origin), *((k, v) for k, v in described.items() if k != "source"),
            ("dtype", config.get("dtype")),
            ("target", f"{target.get('kind')}; frequencies tracked: {freqs} ({target.get('freqs_source')})"),
            ("training points", target.get("n_train")), ("eval grid", target.get("n_eval"))]
    if config.get("user"):
        rows.append(("user config", json.dumps(config["user"], sort_keys=True)))
    return pd.DataFrame(rows, columns=["setting", "value"]).astype(str)


def _steps(every) -> str:
    return "step" if every == 1 else f"{every} steps"


def run_sections(run: RunAnalyses, figs: dict, prefix: str, level: int, heading: str | None) -> list[str]:
    """The run's configuration, then the section of each analysis shown, in registry (BUILTIN) order."""
    from analyzer.core.registry import names

    lines = [heading, ""] if heading else []
    lines += [f"{'#' * level} Run configuration", ""] + markdown_table(config_table(run))
    for name in names():
        if name not in run.results:
            continue  # neither computed for this report nor cached
        section = get(name).section
        if section is not None:
            lines += section(run, figs, prefix, level)
        elif run.results[name] is not None:
            lines += generic_section(name, run.results[name], level)
    return lines


def generic_section(name: str, result, level: int) -> list[str]:
    """The section of an analysis that brings none: its summary, headline and tables."""
    lines = [f"{'#' * level} {name.capitalize()}", "", get(name).summary + ".", ""]
    lines += [result.headline() + ".", ""]
    for title, frame in result.tables().items():
        lines += [f"*{title}*", ""] + markdown_table(frame)
    return lines
