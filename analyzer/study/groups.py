"""The groups of a study: runs that share a condition, named by what varies between them.

Runs are grouped by preset (imported and logged runs: by their model's constructor), and within it by every config
field that differs between its runs, except the fields that identify a run rather than a condition: its random
seed, its float-rounding perturbation, the device, its name, output path or timestamps (IDENTITY_FIELDS, matched
on the last component of a nested key, so a research loop's `config={"seed": 3}` stored as `user.seed` does not
split its seeds into groups). A group is named by its preset followed by those fields, e.g. `baseline lr=0.001`
(just `baseline` when nothing else varies). `--group-by KEYS` replaces the varying fields by the keys given.
A replicate set is a network run's float-rounding replicates (perturbed initial weights) with that run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from analyzer.errors import BadInputError
from analyzer.study.collect import RunSummary

IDENTITY_FIELDS = frozenset({
    "seed", "perturb", "perturb_seed", "device", "preset", "replicate", "run", "run_name", "run_id", "name", "id",
    "out", "output", "out_dir", "output_dir", "path", "log_dir", "save_dir", "checkpoint_dir", "ckpt_dir",
    "timestamp", "time", "date", "created", "started", "wandb_id", "wandb_run", "resume", "overwrite",
    "linearize"})  # linearize: a role (the twin of its network, in its network's group), not a condition


@dataclass(frozen=True)
class Grouping:
    """Run path -> group name, and per preset the config keys that formed its groups."""

    group_of: dict[str, str]
    keys: dict[str, list[str]]  # preset -> the varying (or chosen) keys
    chosen: tuple[str, ...] = ()  # --group-by keys, if given

    def describe(self) -> str:
        """One sentence for the report: which keys formed the groups."""
        if self.chosen:
            return f"Groups: preset (or model constructor) and the keys given with --group-by: {', '.join(self.chosen)}."
        formed = [f"{preset}: {', '.join(keys)}" for preset, keys in self.keys.items() if keys]
        return ("Groups: preset (imported and logged runs: model constructor)"
                + (f", split by the config keys that vary ({'; '.join(formed)})" if formed else
                   "; no other config key varies between runs of a preset")
                + "; never by keys that identify a run (seed, perturbation, device, name, output path, timestamps).")


def group_runs(runs: list[RunSummary], group_by: tuple[str, ...] = ()) -> Grouping:
    """The groups of `runs`: by preset plus the varying condition keys, or plus the keys named in `group_by`."""
    flat = {r.path: _flatten(r.config) for r in runs}
    names, keys = {}, {}
    for preset in sorted({r.preset for r in runs}):
        members = [r for r in runs if r.preset == preset]
        present = sorted({k for r in members for k in flat[r.path]})
        if group_by:
            chosen = [_resolve(key, present) for key in group_by]
        else:
            candidates = [k for k in present if k.rsplit(".", 1)[-1] not in IDENTITY_FIELDS]
            chosen = [k for k in candidates if len({json.dumps(flat[r.path].get(k)) for r in members}) > 1]
        keys[preset] = chosen
        short = {k: k.rsplit(".", 1)[-1] for k in chosen}
        if len(set(short.values())) < len(short):  # e.g. model.init and optimizer.init: keep the dotted path
            short = {k: k for k in chosen}
        for r in members:
            parts = [f"{short[k]}={_compact(flat[r.path].get(k))}" for k in chosen]
            names[r.path] = " ".join([preset, *parts])
    return Grouping(names, keys, tuple(group_by))


def group_names(runs: list[RunSummary]) -> dict[str, str]:
    """Run path -> group name (the default grouping)."""
    return group_runs(runs).group_of


def _resolve(key: str, present: list[str]) -> str:
    """A --group-by key as a flattened config key: exact, or the one key ending in `.key`."""
    if key in present:
        return key
    matches = [k for k in present if k.endswith(f".{key}")]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInputError(f"--group-by {key}: no run's config has that key (some keys: "
                            f"{', '.join(present[:12])}{', ...' if len(present) > 12 else ''})")
    raise BadInputError(f"--group-by {key} is ambiguous: {', '.join(matches)}; give the dotted key")


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
