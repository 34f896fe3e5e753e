"""`train import`: a folder of checkpoints saved by another training loop becomes an ordinary run file.

Each checkpoint (in step order, one at a time) gives a row of /ckpt, the predictions on the eval grid
and a /log row with the full-batch MSE mean((f(x_train) - y_train)^2) and its gradient norm, all
recomputed here at the stored parameters. Losses from a CSV log (`step,loss`) fill the steps between
checkpoints (and replace the recomputed loss at the steps they share, so the curve is one series);
those rows have no gradient norm (NaN), and no row has a learning rate (NaN). The file is written
through RunWriter at RUN.importing and only renamed to RUN once complete, so a failure or a kill
leaves nothing at RUN, and an existing RUN is replaced (with --overwrite) only by a finished import.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from trainer import byo, runfile
from trainer.checkpoint_files import CheckpointFile, StateChecker, list_checkpoints, read_state
from trainer.errors import ConfigError
from trainer.models import build_model, functional_forward, param_layout
from trainer.runfile import RunMeta
from trainer.runlock import RunLock
from trainer.writer import RunWriter

COMMIT_EVERY = 256  # checkpoints per commit: bounds the rows held in memory, whatever the folder's size
STAGING_SUFFIX = ".importing"
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportResult:
    path: Path
    checkpoints: int
    first_step: int
    last_step: int
    log_rows: int
    csv_rows: int
    seconds: float
    csv_max_rel_diff: float  # largest |csv - recomputed| / recomputed loss at shared steps (NaN: none shared)
    target: dict  # the /data target record: freqs_hz and how they were found (given, detected, none)


def import_run(folder: Path | str, model: str, data: Path | str, out: Path | str, *,
               model_kwargs: dict | None = None, losses: Path | str | None = None, step_regex: str | None = None,
               freqs_hz=None, overwrite: bool = False, progress: ProgressFn | None = None) -> ImportResult:
    """Convert a checkpoint folder into the run file `out` (see the module docstring)."""
    started = time.perf_counter()
    out = Path(out)
    runfile.check_writable_target(out, overwrite)
    plan = _plan(Path(folder), model, Path(data), model_kwargs, losses, step_regex, freqs_hz)
    merge = _write_staged(out, plan, progress)
    files = plan.files
    return ImportResult(out, len(files), files[0].step, files[-1].step, merge["rows"], len(plan.csv_steps),
                        time.perf_counter() - started, merge["max_rel_diff"], plan.meta.target)


@dataclass(frozen=True)
class _Plan:
    """Everything checked before anything is written."""

    files: list[CheckpointFile]
    checker: StateChecker
    evaluate: "Evaluator"
    meta: RunMeta
    csv_steps: np.ndarray
    csv_loss: np.ndarray


def _plan(folder: Path, model: str, data: Path, model_kwargs: dict | None, losses, step_regex: str | None,
          freqs_hz) -> _Plan:
    """Files, model, data and losses checked; the first checkpoint loaded into the model and evaluated."""
    files = list_checkpoints(folder, step_regex)
    spec = byo.model_spec_for(model, model_kwargs)
    arrays = byo.load_data_file(data)
    csv_steps, csv_loss = read_loss_log(losses) if losses is not None else (np.zeros(0, np.int64), np.zeros(0))
    first_state = read_state(files[0].path)
    net = build_model(spec, seed=0, dtype=_dtype_of(first_state, build_model(spec, seed=0))).eval()
    checker = StateChecker(net, spec.constructor or model)
    target = byo.describe_target(arrays, byo.param_dtype_of(net), freqs_hz)
    config = {"import": {"folder": str(folder.resolve()), "files": len(files), "data": str(data.resolve()),
                         "losses": None if losses is None else str(Path(losses).resolve()), "model": model,
                         "model_kwargs": model_kwargs or {}, "step_regex": step_regex}}
    meta = byo.run_meta(net, spec, arrays, target, source="import", config=config)
    evaluate = Evaluator(net, meta.data)
    evaluate(checker.flat(first_state, files[0].path), files[0].path)  # refuse a model that cannot evaluate, first
    return _Plan(files, checker, evaluate, meta, csv_steps, csv_loss)


def _write_staged(out: Path, plan: _Plan, progress: ProgressFn | None) -> dict:
    """Write the run at RUN.importing under RUN's lock and rename it onto RUN once complete."""
    made = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with RunLock(out):
            staged = out.with_name(out.name + STAGING_SUFFIX)
            writer = RunWriter.create(staged, plan.meta, overwrite=True, commit_every_s=math.inf)
            try:
                merge = _write_rows(writer, plan, progress)
                writer.close("complete")
            except BaseException:
                writer.discard()
                raise
            os.replace(staged, out)
    except BaseException:
        for new_folder in made:  # leave no trace: the folders made for the output, if still empty
            if new_folder.exists() and not any(new_folder.iterdir()):
                new_folder.rmdir()
        raise
    return merge


def _dtype_of(state: dict[str, torch.Tensor], model: torch.nn.Module) -> torch.dtype:
    """The floating dtype of a checkpoint's parameters (the run is stored in it; others are refused later)."""
    dtypes = {state[name].dtype for name, _ in model.named_parameters() if name in state}
    return dtypes.pop() if len(dtypes) == 1 and dtypes <= {torch.float32, torch.float64} else torch.float32


class Evaluator:
    """Loss, gradient norm and eval-grid predictions at a flat parameter vector, by autograd."""

    def __init__(self, model: torch.nn.Module, data: dict[str, np.ndarray]):
        self.model, self.layout = model, param_layout(model)
        self.x, self.y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
        same = data["x_eval"].shape == data["x_train"].shape and np.array_equal(data["x_eval"], data["x_train"])
        self.x_eval = None if same else torch.from_numpy(data["x_eval"])

    def __call__(self, flat: np.ndarray, path: Path) -> tuple[float, float, np.ndarray]:
        theta = torch.from_numpy(flat).requires_grad_(True)
        try:
            out = functional_forward(self.model, self.layout, theta, self.x)
        except Exception as err:
            raise ConfigError(f"{path.name}: the model cannot evaluate x_train of shape {tuple(self.x.shape)} "
                              f"({type(err).__name__}: {err})") from None
        if not isinstance(out, torch.Tensor) or out.shape != self.y.shape:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(f"the model maps x_train {tuple(self.x.shape)} to {shape}; the run needs y_train's "
                              f"shape {tuple(self.y.shape)} (outputs as (N, outputs))")
        loss = torch.mean((out - self.y) ** 2)
        (grad,) = torch.autograd.grad(loss, theta)
        if self.x_eval is None:
            pred = out.detach()
        else:
            with torch.no_grad():
                pred = functional_forward(self.model, self.layout, theta.detach(), self.x_eval)
        return float(loss.detach()), float(torch.linalg.vector_norm(grad)), pred.numpy()


def _write_rows(writer: RunWriter, plan: _Plan, progress: ProgressFn | None) -> dict:
    """Checkpoint, prediction and log rows in step order, CSV rows merged in; committed every COMMIT_EVERY."""
    files, checker, evaluate = plan.files, plan.checker, plan.evaluate
    csv_steps, csv_loss = plan.csv_steps, plan.csv_loss
    next_csv, rows, diffs = 0, 0, []
    for done, item in enumerate(files, start=1):
        flat = checker.flat(read_state(item.path), item.path)
        loss, grad_norm, pred = evaluate(flat, item.path)
        while next_csv < len(csv_steps) and csv_steps[next_csv] < item.step:
            writer.log_step(int(csv_steps[next_csv]), float(csv_loss[next_csv]))
            next_csv, rows = next_csv + 1, rows + 1
        if next_csv < len(csv_steps) and csv_steps[next_csv] == item.step:
            diffs.append(abs(csv_loss[next_csv] - loss) / max(abs(loss), 1e-300))
            loss, next_csv = float(csv_loss[next_csv]), next_csv + 1
        writer.checkpoint(item.step, flat)
        writer.log_step(item.step, loss, grad_norm)
        writer.log_pred(item.step, pred)
        rows += 1
        if done % COMMIT_EVERY == 0:
            writer.commit()
        if progress is not None:
            progress(done, len(files))
    for step, value in zip(csv_steps[next_csv:], csv_loss[next_csv:]):
        writer.log_step(int(step), float(value))
        rows += 1
    return {"rows": rows, "max_rel_diff": float(max(diffs)) if diffs else math.nan}


def read_loss_log(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) from a CSV with `step` and `loss` columns (others ignored), sorted by step."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ConfigError(f"loss log {path}: no such file") from None
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ConfigError(f"loss log {path} is not a readable CSV file ({err})") from None
    missing = [c for c in ("step", "loss") if c not in frame.columns]
    if missing:
        raise ConfigError(f"loss log {path} has no {' and no '.join(missing)} column; it needs step,loss "
                          f"(found: {', '.join(map(str, frame.columns))})")
    steps = pd.to_numeric(frame["step"], errors="coerce").to_numpy(dtype=np.float64)
    loss = pd.to_numeric(frame["loss"], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(steps) | (steps < 0) | (steps != np.round(steps)))
    if len(bad):
        raise ConfigError(f"loss log {path}, data row {bad[0] + 1}: step {frame['step'].iloc[bad[0]]} is not a "
                          f"non-negative integer")
    unparsed = np.flatnonzero(loss.isna() & frame["loss"].notna())  # "nan" (a diverged step) reads as NaN: kept
    if len(unparsed):
        row = int(unparsed[0])
        raise ConfigError(f"loss log {path}, data row {row + 1}: loss {frame['loss'].iloc[row]!r} is not a number")
    loss = loss.to_numpy(dtype=np.float64)
    steps = steps.astype(np.int64)
    order = np.argsort(steps, kind="stable")
    steps, loss = steps[order], loss[order]
    repeated = np.flatnonzero(np.diff(steps) == 0)
    if len(repeated):
        raise ConfigError(f"loss log {path} has step {steps[repeated[0]]} more than once")
    return steps, loss
