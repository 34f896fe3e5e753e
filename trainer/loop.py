"""The training loop: full-batch MSE with Adam or SGD, logged densely through `RunWriter`."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from trainer import runfile
from trainer.config import TrainConfig, validate
from trainer.models import build_model, flatten, load_flat, param_layout, perturb_parameters
from trainer.runfile import RunMeta
from trainer.targets import make_data
from trainer.writer import RunWriter

ProgressFn = Callable[[int, float], None]
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class RunResult:
    path: Path
    status: str
    steps: int  # optimizer steps completed
    seconds: float
    final_loss: float


def make_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    return torch.optim.SGD(model.parameters(), lr=config.lr)


def pack_optimizer_state(optimizer: torch.optim.Optimizer) -> np.ndarray:
    """Adam's (exp_avg, exp_avg_sq, step) for every parameter as one float64 vector; SGD has none."""
    if not isinstance(optimizer, torch.optim.Adam):
        return np.zeros(0)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    parts, steps = [], []
    for key in ("exp_avg", "exp_avg_sq"):
        for p in params:
            state = optimizer.state.get(p, {})
            value = state.get(key, torch.zeros_like(p))
            parts.append(value.detach().reshape(-1).to(torch.float64).cpu())
    for p in params:
        steps.append(float(optimizer.state.get(p, {}).get("step", 0.0)))
    return torch.cat(parts + [torch.tensor(steps, dtype=torch.float64)]).numpy()


def unpack_optimizer_state(optimizer: torch.optim.Optimizer, vector: np.ndarray) -> None:
    if not isinstance(optimizer, torch.optim.Adam):
        return
    params = [p for group in optimizer.param_groups for p in group["params"]]
    sizes = [p.numel() for p in params]
    total = sum(sizes)
    vec = torch.from_numpy(np.asarray(vector, dtype=np.float64))
    exp_avg = torch.split(vec[:total], sizes)
    exp_avg_sq = torch.split(vec[total:2 * total], sizes)
    steps = vec[2 * total:2 * total + len(params)]
    scalar_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    for i, p in enumerate(params):
        if float(steps[i]) == 0.0:
            continue  # the optimizer initialises the state itself on its first step
        optimizer.state[p] = {
            "step": torch.tensor(float(steps[i]), dtype=scalar_dtype),
            "exp_avg": exp_avg[i].to(p.dtype).reshape(p.shape).clone().to(p.device),
            "exp_avg_sq": exp_avg_sq[i].to(p.dtype).reshape(p.shape).clone().to(p.device),
        }


def resume_state_size(config: TrainConfig, n_params: int, n_tensors: int) -> int:
    return 2 * n_params + n_tensors if config.optimizer == "adam" else 0


def run_meta(config: TrainConfig, model: torch.nn.Module, data: dict[str, np.ndarray]) -> RunMeta:
    layout = param_layout(model)
    cast = {k: v.astype(config.dtype) for k, v in data.items()}
    return RunMeta(config=dataclasses.asdict(config), target=dataclasses.asdict(config.target),
                   model=dataclasses.asdict(config.model), layout=layout.to_dict(), data=cast,
                   n_params=layout.n_params, param_dtype=config.dtype,
                   resume_size=resume_state_size(config, layout.n_params, len(layout.names)))


def initial_model(config: TrainConfig) -> torch.nn.Module:
    """The model at step 0: the seeded init, then the replicate perturbation (none when perturb is 0)."""
    model = build_model(config.model, config.seed, TORCH_DTYPES[config.dtype])
    return perturb_parameters(model, config.perturb, config.perturb_seed).to(config.device)


def train(config: TrainConfig, out: Path | str, *, overwrite: bool = False, progress: ProgressFn | None = None,
          commit_every_s: float = 1.0) -> RunResult:
    """Train one run from scratch and write it to `out`."""
    validate(config)
    runfile.check_writable_target(Path(out), overwrite)
    model = initial_model(config)
    data = make_data(config.target)
    writer = RunWriter.create(out, run_meta(config, model, data), overwrite=overwrite, commit_every_s=commit_every_s)
    optimizer = make_optimizer(config, model)
    return _fit(config, model, optimizer, writer, data, 0, progress)


def resume(path: Path | str, *, progress: ProgressFn | None = None, commit_every_s: float = 1.0) -> RunResult:
    """Continue a killed or interrupted run from its last committed checkpoint."""
    writer, meta, point = RunWriter.resume(path, commit_every_s=commit_every_s)
    config = TrainConfig.from_dict(meta.config)
    model = initial_model(config)
    optimizer = make_optimizer(config, model)
    if point.params is not None:
        load_flat(model, torch.from_numpy(point.params).to(config.device))
        unpack_optimizer_state(optimizer, point.state)
    data = make_data(config.target)
    return _fit(config, model, optimizer, writer, data, point.step, progress)


def _fit(config: TrainConfig, model: torch.nn.Module, optimizer: torch.optim.Optimizer, writer: RunWriter,
         data: dict[str, np.ndarray], start_step: int, progress: ProgressFn | None) -> RunResult:
    dtype, device = TORCH_DTYPES[config.dtype], config.device
    x, y = (torch.from_numpy(data[k]).to(device=device, dtype=dtype) for k in ("x_train", "y_train"))
    same_grid = data["x_eval"].shape == data["x_train"].shape and np.array_equal(data["x_eval"], data["x_train"])
    x_eval = x if same_grid else torch.from_numpy(data["x_eval"]).to(device=device, dtype=dtype)
    params = list(model.parameters())
    lr = float(optimizer.param_groups[0]["lr"])
    status, step, loss_value, started = "complete", start_step, math.nan, time.perf_counter()
    try:
        for step in range(start_step, config.epochs):
            if step % config.ckpt_every == 0:
                writer.checkpoint(step, flatten(model).cpu().numpy(), lambda: pack_optimizer_state(optimizer))
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            loss = torch.mean((out - y) ** 2)
            loss.backward()
            loss_value = loss.item()
            # one cat + one norm: the cheapest exact total norm for a handful of tensors (bench/RESULTS.md)
            grad_norm = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in params]))
            writer.log_step(step, loss_value, grad_norm.item(), lr)
            if step % config.pred_every == 0:
                pred = out.detach() if same_grid else _predict(model, x_eval)
                writer.log_pred(step, pred.cpu().numpy())
            if not math.isfinite(loss_value):
                status = "diverged"
                break
            optimizer.step()
            if progress is not None:
                progress(step + 1, loss_value)
        else:
            step = config.epochs
            writer.checkpoint(step, flatten(model).cpu().numpy(), None)
            writer.log_pred(step, _predict(model, x_eval).cpu().numpy())
    except KeyboardInterrupt:
        status = "interrupted"
    writer.close(status)
    return RunResult(writer.path, status, step, time.perf_counter() - started, loss_value)


def _predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)
