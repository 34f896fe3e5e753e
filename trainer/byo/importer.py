"""`train import`: a folder of checkpoints saved by another training loop becomes an ordinary run file.

Each checkpoint (in step order, one at a time) gives a row of /ckpt, the predictions on the eval grid
and a /log row with the full-batch MSE mean((f(x_train) - y_train)^2) and its gradient norm, all
recomputed here at the stored parameters. Losses from a CSV log (a `step` column and the loss column)
fill the steps between checkpoints. Which loss that column holds is settled before anything is written
(trainer/runfile/loss_log.py): an MSE replaces the recomputed loss at the steps both have (one series); a user-defined
loss is the whole series, with no recomputed MSE spliced in. CSV rows have no gradient norm (NaN), and no row
has a learning rate (NaN). The file is written through RunWriter at RUN.importing and only renamed to RUN once
complete, so a failure or a kill leaves nothing at RUN, and an existing RUN is replaced (with --overwrite) only
by a finished import.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from trainer.runfile import records
from trainer.runfile import loss_log
from trainer.runfile import schema as runfile
from trainer.byo.checkpoints import CheckpointFile, StateChecker, find_checkpoints, load_state, read_state
from trainer.errors import ConfigError
from trainer.runfile.loss_log import LossRecord
from trainer.models import build_model, functional_forward, param_layout
from trainer.runfile.schema import RunMeta
from trainer.runfile.lock import RunLock
from trainer.runfile.writer import RunWriter

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
    loss: LossRecord = LossRecord("mse")  # which loss /log holds
    notes: tuple[str, ...] = ()  # what the import did to read the folder (layout, nested weights, key prefixes)


@dataclass(frozen=True)
class LossOptions:
    """The `--losses` CSV, its column holding the loss and which loss that is (None: checked against the MSE)."""

    path: Path | str | None = None
    column: str = "loss"
    kind: str | None = None


@dataclass(frozen=True)
class TargetOptions:
    """What the spectrum tracks: given frequencies (Hz) or detected ones (at most `max_freqs`, None: all), on the
    coordinate `coords` (an array name in the data file or a .npy file; None: x_eval)."""

    freqs_hz: list[float] | None = None
    coords: str | None = None
    max_freqs: int | None = None


def import_run(folder: Path | str, model: str, data: Path | str, out: Path | str, *,
               model_kwargs: dict | None = None, losses: Path | str | LossOptions | None = None,
               step_regex: str | None = None, freqs_hz=None, overwrite: bool = False,
               progress: ProgressFn | None = None, optimizer: dict | None = None, key_prefix: str | None = None,
               target: TargetOptions | None = None) -> ImportResult:
    """Convert a checkpoint folder into the run file `out` (see the module docstring).

    `optimizer`: what the user knows of the training ({"optimizer": "Adam", "lr": 1e-3}), kept in the config.
    `key_prefix`: the prefix of the model's keys in the checkpoints ("model." in a LightningModule).
    `target`: the target frequencies or how to detect them (`freqs_hz` is the same as target.freqs_hz).
    """
    started = time.perf_counter()
    out = Path(out)
    runfile.check_writable_target(out, overwrite)
    loss_options = losses if isinstance(losses, LossOptions) else LossOptions(losses)
    target = target or TargetOptions()
    if freqs_hz is not None:
        target = dataclasses.replace(target, freqs_hz=freqs_hz)
    plan = _plan(Path(folder), model, Path(data), model_kwargs, loss_options, step_regex, target, optimizer,
                 key_prefix)
    merge = _write_staged(out, plan, progress)
    files = plan.files
    return ImportResult(out, len(files), files[0].step, files[-1].step, merge["rows"], len(plan.csv_steps),
                        time.perf_counter() - started, merge["max_rel_diff"], plan.meta.target, plan.loss,
                        tuple(plan.notes))


@dataclass(frozen=True)
class _Plan:
    """Everything checked before anything is written."""

    files: list[CheckpointFile]
    checker: StateChecker
    evaluate: "Evaluator"
    meta: RunMeta
    csv_steps: np.ndarray
    csv_loss: np.ndarray
    loss: LossRecord
    notes: list[str]


def _plan(folder: Path, model: str, data: Path, model_kwargs: dict | None, losses: LossOptions,
          step_regex: str | None, target_options: TargetOptions, optimizer: dict | None = None,
          key_prefix: str | None = None) -> _Plan:
    """Files, model, data and losses checked; the first checkpoint loaded into the model and evaluated."""
    listing = find_checkpoints(folder, step_regex)
    files = listing.files
    spec = records.model_spec_for(model, model_kwargs)
    arrays = records.load_data_file(data, coords=target_options.coords)
    loss_log.check_kind(losses.kind)
    csv_steps, csv_columns = (loss_log.read_loss_log(losses.path, losses.column) if losses.path is not None
                              else (np.zeros(0, np.int64), {}))
    first = load_state(files[0].path, files[0].name)
    net = build_model(spec, seed=0, dtype=_dtype_of(first.state, build_model(spec, seed=0))).eval()
    checker = StateChecker(net, spec.constructor or model, key_prefix)
    target = records.describe_target(arrays, records.param_dtype_of(net), target_options.freqs_hz,
                                     max_freqs=target_options.max_freqs)
    evaluate = Evaluator(net, records.cast_data(arrays, records.param_dtype_of(net)))
    evaluate(checker.flat(first.state, files[0].path, files[0].name), files[0].name)  # refuse what cannot evaluate
    notes = listing.notes + _reading_notes(first) + checker.notes
    record = LossRecord("mse")
    if losses.path is not None:
        record = _loss_record(files, checker, evaluate, csv_steps, csv_columns, losses)
    config = {"import": {"folder": str(folder.resolve()), "files": len(files), "data": str(data.resolve()),
                         "losses": None if losses.path is None else str(Path(losses.path).resolve()),
                         "model": model, "model_kwargs": model_kwargs or {}, "step_regex": step_regex,
                         "key_prefix": key_prefix, "coords": target_options.coords, "notes": notes},
              "loss": record.to_dict(), **(optimizer or {})}
    meta = records.run_meta(net, spec, arrays, target, source="import", config=config)
    csv_loss = csv_columns.get(losses.column, np.zeros(0))
    return _Plan(files, checker, evaluate, meta, csv_steps, csv_loss, record, notes)


def _reading_notes(first) -> list[str]:
    """What reading the first checkpoint found: where the weights were and what beside them was not loaded."""
    notes = []
    if first.lightning:
        notes.append(f"PyTorch Lightning checkpoints: weights under {first.nested_key!r}")
    elif first.nested_key is not None:
        notes.append(f"weights under {first.nested_key!r}")
    if first.not_loaded:
        shown = ", ".join(first.not_loaded[:3]) + (", ..." if len(first.not_loaded) > 3 else "")
        notes.append(f"objects of {len(first.not_loaded)} class(es) beside the weights not loaded ({shown}): "
                     "weights_only refuses them")
    return notes


COMPARED_CHECKPOINTS = 8  # checkpoints evaluated before writing to tell which loss the CSV holds


def _loss_record(files, checker, evaluate, csv_steps, csv_columns, losses: LossOptions) -> LossRecord:
    """Which loss the CSV column holds: compared with the MSE at up to COMPARED_CHECKPOINTS shared steps."""
    logged = set(csv_steps.tolist())
    shared = [i for i, item in enumerate(files) if item.step in logged]
    picked = [shared[int(k)] for k in np.unique(np.linspace(0, len(shared) - 1, COMPARED_CHECKPOINTS).round())
              ] if shared else []
    mse = np.array([evaluate(checker.flat(read_state(files[i].path, files[i].name), files[i].path, files[i].name),
                             files[i].name)[0] for i in picked])
    rows = np.searchsorted(csv_steps, [files[i].step for i in picked])
    diffs = {name: loss_log.median_rel_diff(values[rows], mse) if len(rows) else float("nan")
             for name, values in csv_columns.items()}
    others = {name: d for name, d in diffs.items() if name != losses.column and np.isfinite(d)}
    return loss_log.decide_kind(losses.column, losses.kind, diffs[losses.column], others)


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
    """The floating dtype of a checkpoint's parameters (the run is stored in it; others are refused later); keys
    may carry prefixes, so a key counts when it ends with a parameter's name."""
    names = [name for name, _ in model.named_parameters()]
    dtypes = {value.dtype for key, value in state.items()
              if any(key == name or key.endswith("." + name) for name in names)}
    return dtypes.pop() if len(dtypes) == 1 and dtypes <= {torch.float32, torch.float64} else torch.float32


class Evaluator:
    """Loss, gradient norm and eval-grid predictions at a flat parameter vector, by autograd."""

    def __init__(self, model: torch.nn.Module, data: dict[str, np.ndarray]):
        self.model, self.layout = model, param_layout(model)
        self.x, self.y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
        same = data["x_eval"].shape == data["x_train"].shape and np.array_equal(data["x_eval"], data["x_train"])
        self.x_eval = None if same else torch.from_numpy(data["x_eval"])

    def __call__(self, flat: np.ndarray, name: str) -> tuple[float, float, np.ndarray]:
        theta = torch.from_numpy(flat).requires_grad_(True)
        try:
            out = functional_forward(self.model, self.layout, theta, self.x)
        except Exception as err:
            raise ConfigError(f"{name}: the model cannot evaluate x_train of shape {tuple(self.x.shape)} "
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
    """Checkpoint, prediction and log rows in step order, CSV rows merged in; committed every COMMIT_EVERY.

    A user-defined CSV loss is the whole series: a checkpoint adds no row of the recomputed MSE (nor its
    gradient norm, which is not the gradient of the user's loss).
    """
    files, checker, evaluate = plan.files, plan.checker, plan.evaluate
    csv_steps, csv_loss = plan.csv_steps, plan.csv_loss
    user_loss = plan.loss.kind == "user"
    next_csv, rows, diffs = 0, 0, []
    for done, item in enumerate(files, start=1):
        flat = checker.flat(read_state(item.path, item.name), item.path, item.name)
        loss, grad_norm, pred = evaluate(flat, item.name)
        while next_csv < len(csv_steps) and csv_steps[next_csv] < item.step:
            writer.log_step(int(csv_steps[next_csv]), float(csv_loss[next_csv]))
            next_csv, rows = next_csv + 1, rows + 1
        shared = next_csv < len(csv_steps) and csv_steps[next_csv] == item.step
        if shared:
            diffs.append(abs(csv_loss[next_csv] - loss) / max(abs(loss), 1e-300))
            loss, next_csv = float(csv_loss[next_csv]), next_csv + 1
        writer.checkpoint(item.step, flat)
        if shared or not user_loss:
            writer.log_step(item.step, loss, None if user_loss else grad_norm)
            rows += 1
        writer.log_pred(item.step, pred)
        if done % COMMIT_EVERY == 0:
            writer.commit()
        if progress is not None:
            progress(done, len(files))
    for step, value in zip(csv_steps[next_csv:], csv_loss[next_csv:]):
        writer.log_step(int(step), float(value))
        rows += 1
    return {"rows": rows, "max_rel_diff": float(max(diffs)) if diffs else math.nan}
