"""Helpers shared by the tests (importable as `helpers`; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from trainer.config import PRESETS, TargetSpec, TrainConfig

TESTS = Path(__file__).resolve().parent  # tests/: the helpers and golden files; test files sit in folders below
REPO = TESTS.parent


def small_config(preset: str = "baseline", **changes) -> TrainConfig:
    """A preset shrunk so that a run takes well under a second."""
    config = PRESETS[preset]
    model = dataclasses.replace(config.model, width=min(config.model.width, 16))
    target = dataclasses.replace(config.target, n_train=128)
    base = dataclasses.replace(config, model=model, target=target, epochs=200)
    return dataclasses.replace(base, **changes)


def sphere_config(degrees=(2,), amps=(1.0,), **changes) -> TrainConfig:
    """A small full-batch GD run of a one-hidden-layer ReLU net on harmonics of S^2 (well under a second)."""
    config = small_config(epochs=80, optimizer="sgd", lr=0.01)
    target = TargetSpec(kind="harmonics", freqs_hz=(), amps=amps, degrees=degrees, input_dim=3, n_train=150)
    model = dataclasses.replace(config.model, in_dim=3, depth=1, width=64)
    return dataclasses.replace(config, **({"target": target, "model": model} | changes))


DEGENERATE = ("constant-loss", "one-checkpoint", "nan-rows")


def degenerate_run(source, dest, kind: str):
    """A copy of run `source` written afresh through RunWriter, degenerate one way (`kind`, one of DEGENERATE):
    every loss equal to the first ("constant-loss"), only the first checkpoint kept ("one-checkpoint"), or the
    loss and gradient norm of the middle tenth of the logged steps NaN ("nan-rows"); the rest as in `source`."""
    import h5py
    import numpy as np

    from trainer.runfile import schema
    from trainer.runfile.writer import RunWriter

    if kind not in DEGENERATE:
        raise ValueError(f"unknown kind {kind!r}; known: {DEGENERATE}")
    with schema.open_swmr_reader(source) as f:
        meta, counts, status = schema.read_meta(f), schema.committed(f), str(f.attrs["status"])
        log = {name: f["log"][name][: counts["log"]] for name in schema.LOG_FIELDS}
        pred_steps, preds = f["log/pred_step"][: counts["pred"]], f["log/pred"][: counts["pred"]]
        ckpt_steps, ckpts = f["ckpt/step"][: counts["ckpt"]], f["ckpt/params"][: counts["ckpt"]]
    if kind == "constant-loss":
        log["loss"] = np.full_like(log["loss"], log["loss"][0])
    elif kind == "one-checkpoint":
        ckpt_steps, ckpts = ckpt_steps[:1], ckpts[:1]
    else:
        n = len(log["loss"])
        middle = slice(n // 2 - n // 20, n // 2 + n // 20 + 1)
        log["loss"], log["grad_norm"] = log["loss"].copy(), log["grad_norm"].copy()
        log["loss"][middle] = log["grad_norm"][middle] = np.nan
    writer = RunWriter.create(dest, meta)
    for step, loss, grad_norm, lr in zip(log["step"], log["loss"], log["grad_norm"], log["lr"]):
        writer.log_step(int(step), float(loss), float(grad_norm), float(lr))
    for step, pred in zip(pred_steps, preds):
        writer.log_pred(int(step), pred)
    for step, params in zip(ckpt_steps, ckpts):
        writer.checkpoint(int(step), params)
    writer.close(status)
    return dest
