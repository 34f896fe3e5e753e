"""The training loop: full-batch MSE with Adam or SGD, logged densely through `RunWriter`.

The step itself is an engine (trainer/engines/engine.py): `fused`, a hand-fused ReLU-MLP step on CPU that
gives the same bits as `torch`, where it applies; `torch` (autograd + torch.optim) everywhere else; a linearised
twin (`linearize`) steps with trainer/engines/twin.py (a jvp and a vjp per step, the torch engine's optimizer).
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from trainer import optim
from trainer.runfile import schema as runfile
from trainer.config import TrainConfig, validate
from trainer.engines.engine import (  # noqa: F401  (make_optimizer is re-exported for bench/train_overhead.py)
    Engine, choose_engine, make_engine, make_optimizer)
from trainer.engines.twin import TwinEngine
from trainer.errors import RunFileError
from trainer.linearized import THETA0_STEP, linearized_record
from trainer.models import build_model, param_layout, perturb_parameters
from trainer.runfile.schema import RunMeta
from trainer.targets import describe, make_data
from trainer.runfile.writer import RunWriter

ProgressFn = Callable[[int, float], None]
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class RunResult:
    path: Path
    status: str
    steps: int  # optimizer steps completed
    seconds: float
    final_loss: float


def resume_state_size(config: TrainConfig, n_params: int, n_tensors: int) -> int:
    return optim.get(config.optimizer).state_size(n_params, n_tensors)


def run_meta(config: TrainConfig, model: torch.nn.Module, data: dict[str, np.ndarray]) -> RunMeta:
    layout = param_layout(model)
    cast = {k: v.astype(config.dtype) for k, v in data.items()}
    spec = dataclasses.asdict(config.model)
    if config.linearize:  # a twin's spec says so, and where its theta_0 is (trainer/linearized.py)
        spec["linearized"] = linearized_record()
    return RunMeta(config=dataclasses.asdict(config), target=describe(config.target),
                   model=spec, layout=layout.to_dict(), data=cast,
                   n_params=layout.n_params, param_dtype=config.dtype,
                   resume_size=resume_state_size(config, layout.n_params, len(layout.names)))


def initial_model(config: TrainConfig) -> torch.nn.Module:
    """The model at step 0: the seeded init, then the replicate perturbation (none when perturb is 0)."""
    model = build_model(config.model, config.seed, TORCH_DTYPES[config.dtype])
    return perturb_parameters(model, config.perturb, config.perturb_seed).to(config.device)


def train(config: TrainConfig, out: Path | str, *, overwrite: bool = False, progress: ProgressFn | None = None,
          commit_every_s: float = 1.0, engine: str = "auto") -> RunResult:
    """Train one run from scratch and write it to `out` (`engine`: auto, fused or torch)."""
    validate(config)
    engine = choose_engine(config, engine)
    runfile.check_writable_target(Path(out), overwrite)
    model = initial_model(config)
    data = make_data(config.target)
    writer = RunWriter.create(out, run_meta(config, model, data), overwrite=overwrite, commit_every_s=commit_every_s)
    stepper = make_stepper(engine, config, model, data)
    return _fit(config, stepper, writer, data, 0, progress)


def resume(path: Path | str, *, progress: ProgressFn | None = None, commit_every_s: float = 1.0,
           engine: str = "auto") -> RunResult:
    """Continue a killed or interrupted run from its last committed checkpoint."""
    with runfile.open_swmr_reader(path) as f:
        runfile.check_resumable(f, Path(path))
        engine = choose_engine(TrainConfig.from_json(f.attrs["config"]), engine)  # refuse before touching the file
    writer, meta, point = RunWriter.resume(path, commit_every_s=commit_every_s)
    config = TrainConfig.from_dict(meta.config)
    model = initial_model(config)
    data = make_data(config.target)
    theta0 = None if point.params is None or not config.linearize else stored_theta0(path)
    stepper = make_stepper(engine, config, model, data, theta0)
    if point.params is not None:
        stepper.load(point.params, point.state)
    return _fit(config, stepper, writer, data, point.step, progress)


def make_stepper(engine: str, config: TrainConfig, model: torch.nn.Module, data: dict[str, np.ndarray],
                 theta0: np.ndarray | None = None) -> Engine:
    """The engine `choose_engine` picked, at the parameters in `model`; a twin's (--linearize) linearises at
    `theta0` (None: the parameters in `model`)."""
    if config.linearize:
        return TwinEngine(config, model, *training_set(config, data), theta0=theta0)
    return make_engine(engine, config, model, *training_set(config, data))


def stored_theta0(path: Path | str) -> np.ndarray:
    """A twin's theta_0: its step-0 checkpoint (the model spec's `linearized` record), not a re-drawn init, so a
    resumed twin linearises where it started even if the seeded init were to change."""
    with runfile.open_swmr_reader(Path(path)) as f:
        steps = f["ckpt/step"][: runfile.committed(f)["ckpt"]]
        at = int(np.searchsorted(steps, THETA0_STEP))
        if at == len(steps) or steps[at] != THETA0_STEP:
            raise RunFileError(f"{path}: the linearised twin's theta_0 (the checkpoint at step {THETA0_STEP}) is "
                               "not stored; the run cannot be resumed")
        return f["ckpt/params"][at].copy()


def training_set(config: TrainConfig, data: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """x_train and y_train as tensors in the run's dtype, on its device."""
    dtype, device = TORCH_DTYPES[config.dtype], config.device
    x, y = (torch.from_numpy(data[k]).to(device=device, dtype=dtype) for k in ("x_train", "y_train"))
    return x, y


def same_grid(data: dict[str, np.ndarray]) -> bool:
    """Is the evaluation grid the training grid (the default)? Then predictions are the step's forward pass."""
    return data["x_eval"].shape == data["x_train"].shape and np.array_equal(data["x_eval"], data["x_train"])


@contextmanager
def one_thread():
    """Train on one intra-op thread: with several, BLAS splits the work by the threads it gets, so the
    rounding (and a run's every later step) changed with the machine's load and core count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit(config: TrainConfig, engine: Engine, writer: RunWriter, data: dict[str, np.ndarray], start_step: int,
         progress: ProgressFn | None) -> RunResult:
    with one_thread():
        return _fit_steps(config, engine, writer, data, start_step, progress)


def _fit_steps(config: TrainConfig, engine: Engine, writer: RunWriter, data: dict[str, np.ndarray],
               start_step: int, progress: ProgressFn | None) -> RunResult:
    reuse_forward = same_grid(data)
    x_eval = torch.from_numpy(data["x_eval"]).to(device=config.device, dtype=TORCH_DTYPES[config.dtype])
    lr = float(config.lr)
    status, step, loss_value, started = "complete", start_step, math.nan, time.perf_counter()
    try:
        for step in range(start_step, config.epochs):
            if step % config.ckpt_every == 0:
                writer.checkpoint(step, engine.flat_params().cpu().numpy(), engine.pack_state)
            loss_value, grad_norm, out = engine.evaluate()
            writer.log_step(step, loss_value, grad_norm, lr)
            if step % config.pred_every == 0:
                writer.log_pred(step, (out if reuse_forward else engine.predict(x_eval)).cpu().numpy())
            if not math.isfinite(loss_value):
                status = "diverged"
                break
            engine.update()
            if progress is not None:
                progress(step + 1, loss_value)
        else:
            step = config.epochs
            writer.checkpoint(step, engine.flat_params().cpu().numpy(), None)
            writer.log_pred(step, engine.predict(x_eval).cpu().numpy())
    except KeyboardInterrupt:
        status = "interrupted"
    writer.close(status)
    return RunResult(writer.path, status, step, time.perf_counter() - started, loss_value)
