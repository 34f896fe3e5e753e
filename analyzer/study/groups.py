"""The groups of a study: runs that share a condition, named by what varies between them.

Runs are grouped by preset, and within a preset by every config field that differs between its runs other than
the fields that identify a run (seed, perturbation, device); a group is named by its preset followed by those
fields, e.g. `baseline lr=0.001` (just `baseline` when nothing else varies). A replicate set is a seed run's
float-rounding replicates (perturbed initial weights) with that run.
"""

from __future__ import annotations

import json

from analyzer.study.collect import RunSummary

IGNORED_FIELDS = ("seed", "perturb", "perturb_seed", "device", "preset")


def group_names(runs: list[RunSummary]) -> dict[str, str]:
    """Run path -> group name: the preset plus every other config field that varies within that preset."""
    flat = {r.path: _flatten(r.config) for r in runs}
    names = {}
    for preset in sorted({r.preset for r in runs}):
        members = [r for r in runs if r.preset == preset]
        keys = sorted({k for r in members for k in flat[r.path]} - set(IGNORED_FIELDS))
        varying = [k for k in keys if len({json.dumps(flat[r.path].get(k)) for r in members}) > 1]
        short = {k: k.rsplit(".", 1)[-1] for k in varying}
        if len(set(short.values())) < len(short):  # e.g. model.init and optimizer.init: keep the dotted path
            short = {k: k for k in varying}
        for r in members:
            parts = [f"{short[k]}={_compact(flat[r.path].get(k))}" for k in varying]
            names[r.path] = " ".join([preset, *parts])
    return names


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _compact(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_compact(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def replicate_set_of(run: RunSummary, group: str) -> str:
    return f"{group} seed {run.seed}"
