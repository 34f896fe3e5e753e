"""Ensembles: R runs of one architecture (seeds, learning rates) trained together, one run file each.

`train_ensemble(configs, paths)` decides whether batching pays (`should_batch`): on a GPU, where a
small MLP's step is launch-bound, R members share every kernel launch (trainer/engines/batched.py); on a
CPU the step is arithmetic-bound and batching gains little per run (bench/RESULTS.md), so members
train one after another on the single-run engines. On CPU the two ways give the same bits. Either
way each member writes an ordinary run file with its own status: a member whose loss turns
non-finite is logged up to and including that row, closed as `diverged` and dropped from the batch;
the others carry on unchanged. Members are ordinary runs afterwards: `train resume` continues any.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from trainer.runfile import schema as runfile
from trainer.engines.batched import BatchedMLP
from trainer.config import TrainConfig, validate
from trainer.errors import ConfigError
from trainer.engines.fused import unsupported_reason
from trainer.engines.loop import (TORCH_DTYPES, ProgressFn, RunResult, initial_model, one_thread, run_meta, same_grid,
                          train, training_set)
from trainer.targets import make_data
from trainer.runfile.writer import RunWriter

# config fields members may differ in; everything else (model, data, optimizer, schedule) is shared
MEMBER_FIELDS = ("preset", "seed", "lr", "perturb")


def check_members(configs: list[TrainConfig], paths: list[Path]) -> None:
    """One architecture and schedule for all, one distinct, writable path each (ConfigError otherwise)."""
    if not configs:
        raise ConfigError("an ensemble needs at least one run")
    if len(configs) != len(paths):
        raise ConfigError(f"{len(configs)} configs but {len(paths)} run files")
    if len({Path(p).resolve() for p in paths}) != len(paths):
        raise ConfigError("two members of the ensemble would write the same run file")
    shared = [{k: v for k, v in dataclasses.asdict(c).items() if k not in MEMBER_FIELDS} for c in configs]
    for config, fields in zip(configs, shared):
        validate(config)
        if fields != shared[0]:
            differing = sorted(k for k in fields if fields[k] != shared[0][k])
            raise ConfigError(f"ensemble members must share everything but {', '.join(MEMBER_FIELDS)}; "
                              f"seed {config.seed} differs in {', '.join(differing)}")


def should_batch(configs: list[TrainConfig]) -> bool:
    """Batch on a GPU (launch-bound small MLPs); on a CPU train members one by one (no gain per run)."""
    config = configs[0]
    on_gpu = config.device.startswith("cuda")
    batchable = unsupported_reason(dataclasses.replace(config, device="cpu")) is None and not config.freeze_hidden
    return on_gpu and batchable and len(configs) > 1


def train_ensemble(configs: list[TrainConfig], paths: list[Path | str], *, batch: bool | None = None,
                   overwrite: bool = False, progress: ProgressFn | None = None,
                   commit_every_s: float = 1.0) -> list[RunResult]:
    """Train every member into its own run file; `batch` None chooses with `should_batch`.

    `progress(run_steps, loss)` counts steps summed over members (out of epochs x members) and shows
    the median loss of the members in training. After Ctrl-C every member in training is closed
    `interrupted`; one by one, the members not yet started are left out of the returned list.
    """
    paths = [Path(p) for p in paths]
    check_members(configs, paths)
    for path in paths:
        runfile.check_writable_target(path, overwrite)  # refuse before training anything
    if batch is None:
        batch = should_batch(configs)
    if not batch:
        return _train_one_by_one(configs, paths, overwrite, progress, commit_every_s)
    reason = unsupported_reason(dataclasses.replace(configs[0], device="cpu"))
    if configs[0].freeze_hidden:
        reason = "freeze-hidden (batched: every layer trained)"
    if reason is not None:
        raise ConfigError(f"the batched step does not cover {reason}")
    return _train_batched(configs, paths, overwrite, progress, commit_every_s)


def _train_one_by_one(configs: list[TrainConfig], paths: list[Path], overwrite: bool, progress: ProgressFn | None,
                      commit_every_s: float) -> list[RunResult]:
    results = []
    for i, (config, path) in enumerate(zip(configs, paths)):
        member_progress = None if progress is None else partial(_offset_progress, progress, i * config.epochs)
        results.append(train(config, path, overwrite=overwrite, progress=member_progress,
                             commit_every_s=commit_every_s))
        if results[-1].status == "interrupted":
            break
    return results


def _train_batched(configs: list[TrainConfig], paths: list[Path], overwrite: bool, progress: ProgressFn | None,
                   commit_every_s: float) -> list[RunResult]:
    with one_thread():  # the same rounding as single runs, whatever the load
        return _train_batched_steps(configs, paths, overwrite, progress, commit_every_s)


def _train_batched_steps(configs: list[TrainConfig], paths: list[Path], overwrite: bool,
                         progress: ProgressFn | None, commit_every_s: float) -> list[RunResult]:
    config, data = configs[0], make_data(configs[0].target)
    models = [initial_model(c) for c in configs]
    writers = [RunWriter.create(p, run_meta(c, m, data), overwrite=overwrite, commit_every_s=commit_every_s)
               for c, m, p in zip(configs, models, paths)]
    engine = BatchedMLP(configs, models, *training_set(config, data))
    members = _Members(configs, writers)
    x_eval = torch.from_numpy(data["x_eval"]).to(device=config.device, dtype=TORCH_DTYPES[config.dtype])
    reuse_forward, step, started = same_grid(data), 0, time.perf_counter()
    try:
        for step in range(config.epochs):
            if step % config.ckpt_every == 0:
                members.checkpoint(step, engine.flat_params().cpu().numpy(), engine.pack_state)
            losses, grad_norms, out = engine.evaluate()
            pred = None
            if step % config.pred_every == 0:
                pred = (out if reuse_forward else engine.predict(x_eval)).cpu().numpy()
            diverged = members.log(step, losses, grad_norms, pred)
            if diverged:
                engine.keep([row for row in range(engine.runs) if row not in diverged])
                members.drop(diverged, step)
                if not members.active:
                    break
            engine.update()
            if progress is not None:
                progress((step + 1) * len(configs), statistics.median(members.last_loss(losses, diverged)))
        else:
            step = config.epochs
            members.checkpoint(step, engine.flat_params().cpu().numpy(), None)
            members.log_pred(step, engine.predict(x_eval).cpu().numpy())
    except KeyboardInterrupt:
        members.close_active("interrupted", step)
    members.close_active("complete", step)
    return members.results(time.perf_counter() - started)


def _offset_progress(progress: ProgressFn, offset: int, step: int, loss: float) -> None:
    progress(offset + step, loss)


class _Members:
    """Which members are still in the batch (row r of the engine is member active[r]) and their writers."""

    def __init__(self, configs: list[TrainConfig], writers: list[RunWriter]):
        self.configs, self.writers = configs, writers
        self.active = list(range(len(configs)))
        self.status = ["running"] * len(configs)
        self.steps = [0] * len(configs)
        self.final_loss = [math.nan] * len(configs)

    def checkpoint(self, step: int, flat: np.ndarray, pack_state) -> None:
        for row, member in enumerate(self.active):
            state = None if pack_state is None else partial(pack_state, row)
            self.writers[member].checkpoint(step, flat[row], state)

    def log(self, step: int, losses: list[float], grad_norms: list[float], pred: np.ndarray | None) -> list[int]:
        """Log one step for every active member; returns the rows whose loss is not finite."""
        diverged = []
        for row, member in enumerate(self.active):
            self.writers[member].log_step(step, losses[row], grad_norms[row], float(self.configs[member].lr))
            self.final_loss[member] = losses[row]
            if not math.isfinite(losses[row]):
                diverged.append(row)
        if pred is not None:
            self.log_pred(step, pred)
        return diverged

    def log_pred(self, step: int, pred: np.ndarray) -> None:
        for row, member in enumerate(self.active):
            self.writers[member].log_pred(step, pred[row])

    def drop(self, rows: list[int], step: int) -> None:
        for row in rows:
            member = self.active[row]
            self.writers[member].close("diverged")
            self.status[member], self.steps[member] = "diverged", step
        self.active = [m for row, m in enumerate(self.active) if row not in rows]

    def last_loss(self, losses: list[float], diverged: list[int]) -> list[float]:
        return [loss for row, loss in enumerate(losses) if row not in diverged] or [math.nan]

    def close_active(self, status: str, step: int) -> None:
        for member in self.active:
            self.writers[member].close(status)
            self.status[member], self.steps[member] = status, step
        self.active = []

    def results(self, seconds: float) -> list[RunResult]:
        return [RunResult(w.path, s, n, seconds, loss)
                for w, s, n, loss in zip(self.writers, self.status, self.steps, self.final_loss)]
