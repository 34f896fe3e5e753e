"""Planning a sweep: seed lists, config grids, run file names and the sweep.json manifest (no Dask here)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from trainer.config import TrainConfig, get_preset, validate
from trainer.errors import ConfigError
from trainer.settings import declared_settings, ordered, yes_no

MANIFEST = "sweep.json"
# the order of the varied values in file names (baseline-s3-lr0.001-epochs500): kept as it was, file names stay
GRID_ORDER = ("lr", "epochs", "optimizer", "dtype", "ckpt-every", "pred-every", "perturb", "width", "depth",
              "activation", "init", "n-train", "amps", "freqs")
# CLI name -> (which part of the config, attribute, parser): the grid settings declared in trainer/config.py;
# a comma list of values makes a grid axis
GRID_FIELDS: dict[str, tuple[str, str, type]] = {
    s.flag: (s.part, s.attribute, s.parser) for s in ordered(declared_settings(TrainConfig), GRID_ORDER)
    if s.spec.sweep is not None and s.spec.grid}
# a value is a comma list (amps 1,1,1,1), grid values are separated by "/"
TUPLE_FIELDS = tuple(s.flag for s in declared_settings(TrainConfig).values() if s.flag in GRID_FIELDS
                     and s.kind in ("floats", "ints"))


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its file name in the sweep folder and its full configuration."""

    file: str
    config: TrainConfig
    varied: dict = field(default_factory=dict)  # the grid values that appear in the file name


def parse_int_set(text: str, name: str) -> tuple[int, ...]:
    """'0-7', '0,2,5', '0-3,8' -> distinct non-negative integers in the order given."""
    values: list[int] = []
    try:
        for part in (p for p in text.replace(" ", "").split(",") if p):
            low, dash, high = part.partition("-")
            span = range(int(low), int(high) + 1) if dash else [int(low)]
            if not span:
                raise ValueError(part)  # an empty range such as 3-1
            values.extend(v for v in span if v not in values)
    except ValueError:
        raise ConfigError(f"--{name} takes non-negative integers and ranges like 0-7, 0,2,5 or 0-3,8; "
                          f"got {text!r}") from None
    if not values:
        raise ConfigError(f"--{name} is empty")
    return tuple(values)


def parse_grid_values(name: str, text: str) -> tuple:
    """A comma list for one of GRID_FIELDS, parsed to its type, duplicates dropped; for TUPLE_FIELDS a value is a
    comma list (1,0.8,0.6,0.4) and grid values are separated by "/" (1,1,1,1/1,0.8,0.6,0.4)."""
    parse = GRID_FIELDS[name][2]
    try:
        if name in TUPLE_FIELDS:
            values = [tuple(parse(v) for v in part.split(",") if v != "")
                      for part in text.replace(" ", "").split("/") if part != ""]
            if not all(values):
                raise ValueError(text)
        else:
            values = [parse(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        kind = {int: "integers", float: "numbers", str: "names", yes_no: "yes/no values (e.g. no,yes)"}[parse]
        if name in TUPLE_FIELDS:
            raise ConfigError(f"--{name} takes comma-separated numbers, grid values separated by /, "
                              f"e.g. 1,1,1,1/1,0.8,0.6,0.4; got {text!r}") from None
        raise ConfigError(f"--{name} takes comma-separated {kind}, got {text!r}") from None
    if not values:
        raise ConfigError(f"--{name} is empty")
    return tuple(dict.fromkeys(values))


def with_field(config: TrainConfig, name: str, value) -> TrainConfig:
    part, attribute, _ = GRID_FIELDS[name]
    if part == "run":
        return dataclasses.replace(config, **{attribute: value})
    return dataclasses.replace(config, **{part: dataclasses.replace(getattr(config, part), **{attribute: value})})


def run_stem(config: TrainConfig, varied: dict) -> str:
    """baseline-s3, baseline-s3-p2 (a perturbed replicate), baseline-s3-lr0.001 (a varied field), baseline-s3-twin
    (the linearised twin: its network's name with -twin, whether or not linearize is a grid axis)."""
    parts = [config.preset, f"s{config.seed}"]
    if config.perturb > 0:
        parts.append(f"p{config.perturb_seed}")
    if config.freeze_hidden:
        parts.append("frozen")
    if config.linearize:
        parts.append("twin")
    parts += [f"{name.replace('-', '')}{_name_value(value)}" for name, value in varied.items() if name != "linearize"]
    return "-".join(parts)


def with_target(config: TrainConfig, target) -> TrainConfig:
    """`config` with another target (a harmonics TargetSpec) and a model input as wide as its points; None: as is."""
    if target is None:
        return config
    return dataclasses.replace(config, target=target, model=dataclasses.replace(config.model, in_dim=target.input_dim))


def _name_value(value) -> str:
    if isinstance(value, tuple):  # amps 1,1,1,1 -> "1_1_1_1"
        return "_".join(_name_value(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def plan_sweep(presets: Sequence[str], seeds: Sequence[int], grid: dict[str, tuple] | None = None,
               replicates: Sequence[int] | None = None, target=None) -> list[PlannedRun]:
    """Every combination of preset x seed x replicate x grid value, validated; ConfigError on the first problem.

    `target`: a TargetSpec every run trains on instead of its preset's (harmonics: files end in -harmonics)."""
    grid = dict(grid or {})
    unknown = set(grid) - set(GRID_FIELDS)
    if unknown:
        raise ConfigError(f"cannot sweep over {sorted(unknown)}; sweepable: {', '.join(GRID_FIELDS)}")
    if replicates is not None and not all(p > 0 for p in grid.get("perturb", (0.0,))):
        raise ConfigError("--replicates needs --perturb > 0 (replicates differ only by the perturbation seed)")
    bases = [with_target(get_preset(name), target) for name in dict.fromkeys(presets)]
    names = [name for name in GRID_FIELDS if name in grid]  # table order: file names do not depend on CLI order
    varied_names = [name for name in names if len(grid[name]) > 1]
    runs: dict[str, PlannedRun] = {}
    for base, seed, replicate, values in itertools.product(bases, seeds, replicates or (0,),
                                                           itertools.product(*(grid[n] for n in names))):
        config = dataclasses.replace(base, seed=seed, perturb_seed=replicate)
        for name, value in zip(names, values):
            config = with_field(config, name, value)
        validate(config)
        # a tuple field (amps, freqs) is named whenever it differs from the preset's: its runs then never share a
        # file name with the preset's own runs in one sweep folder
        varied = {name: value for name, value in zip(names, values) if name in varied_names
                  or (name in TUPLE_FIELDS and value != getattr(base.target, GRID_FIELDS[name][1]))}
        file = run_stem(config, varied) + ("-harmonics" if config.target.kind == "harmonics" else "") + ".h5"
        runs[file] = PlannedRun(file, config, varied)
    return list(runs.values())


SECONDS_PER_MULTIPLY_ADD = 5.6e-11  # the fused step on one core: ~ P x N x this + LAYER_SECONDS per layer
LAYER_SECONDS = 45e-6  # per layer and step: the fixed cost of its operations at these small sizes
TWIN_COST = 3.2  # a linearised twin's step (a jvp and a vjp) over the network's fused step (bench/twin_cost.py)


def estimated_cost(config: TrainConfig) -> float:
    """A run's estimated seconds on one core, so the longest runs start first (longest-first keeps a sweep's
    makespan short). Fitted to the fused step (bench/RESULTS.md: baseline 287, wide 731, deep 875 us): the
    multiply-adds alone rank wide above deep, but deep's six layers cost more than wide's three."""
    m = config.model
    n_params = 4 * m.features if m.kind == "diag-linear" else (
        m.width * (m.in_dim + 1) + (m.depth - 1) * m.width * (m.width + 1) + m.out_dim * (m.width + 1))
    layers = 1 if m.kind == "diag-linear" else m.depth + 1
    per_step = n_params * config.target.n_train * SECONDS_PER_MULTIPLY_ADD + layers * LAYER_SECONDS
    return per_step * config.epochs * (TWIN_COST if config.linearize else 1.0)

# ---- the manifest -------------------------------------------------------------------------------
def manifest_text(folder: Path, runs: Sequence[PlannedRun]) -> str:
    """sweep.json: every run of this and earlier sweeps into `folder` (by file name), with its config."""
    entries = {}
    path = folder / MANIFEST
    if path.exists():
        try:
            entries = {entry["file"]: entry for entry in json.loads(path.read_text())["runs"]}
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(f"{path} is not a sweep manifest; move it away or use another --out folder") from None
    for run in runs:
        entries[run.file] = {"file": run.file, "preset": run.config.preset, "seed": run.config.seed,
                             "perturb_seed": run.config.perturb_seed, "varied": run.varied,
                             "config": dataclasses.asdict(run.config)}
    payload = {"format": "spectral-sweep", "version": 1, "runs": [entries[k] for k in sorted(entries)]}
    return json.dumps(payload, indent=1, sort_keys=True) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` in one step (unchanged content: the file is not touched at all)."""
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "x") as f:  # a unique name: concurrent writers never share a temporary file
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
