"""`RunWriter`'s face for any PyTorch loop: open a run for an `nn.Module`, log predictions computed from it,
checkpoint the module and its optimizer, close as a context manager (a mixin; the commit protocol is in
trainer/runfile/writer.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ModelLogging:
    """Mixed into `RunWriter`; needs its `create`, `log_pred`, `close` and `closed`."""

    model = None  # RunWriter.for_model: the model whose predictions log_predictions computes
    _x_eval: np.ndarray | None = None
    _diverged = False  # a non-finite loss was logged: the context manager closes with status diverged
    _resume_capacity = 0
    _loss_check: "_LossCheck | None" = None  # for_model without loss_kind: the logged loss checked against the MSE

    @classmethod
    def for_model(cls, path: Path | str, model, x_train, y_train, x_eval=None, y_eval=None, *,
                  constructor=None, constructor_kwargs: dict | None = None, target_freqs_hz=None,
                  config: dict | None = None, optimizer=None, overwrite: bool = False,
                  commit_every_s: float = 1.0, loss_kind: str | None = None, loss_name: str | None = None,
                  coords=None):
        """A new run file for any `nn.Module`, written from your own training loop (README, "Bring your own run").

        Args:
            model: the model being trained; its parameters' dtype (float32 or float64) is the run's.
            x_train, y_train: the training set (arrays or tensors, (N,) or (N, d)); the analyzer's
                Hessian takes the loss mean((model(x_train) - y_train)^2) at the checkpoints.
            x_eval, y_eval: the grid `log_predictions` evaluates on; default the training set.
            constructor: how the analyzer rebuilds the model: "package.module:callable" (called with
                `constructor_kwargs`), "preset:NAME", a trainer `ModelSpec`, or None for the model's
                own class called with `constructor_kwargs`. It is built once here and must give the
                same parameter names and shapes as `model`.
            target_freqs_hz: frequencies the spectrum tracks, in Hz on the eval grid (or on `coords`); default
                every DFT peak of y_eval at >= 10 % of the largest (the run records how they were found).
            coords: the coordinate the target lives on, one row per eval point ((G,) or (G, 1)), when the model's
                input is an encoding of it (e.g. a sin/cos positional encoding of x in [0, 1)): the spectrum reads
                the target's frequencies on it instead of on x_eval.
            config: anything JSON-able to keep with the run (your hyperparameters), stored under "user".
            optimizer: pass your Adam optimizer to make room for its state in the checkpoints; its class
                and learning rate are recorded (`config["optimizer"]`, `config["lr"]`).
            loss_kind: what `log_step` logs: "mse" (mean((model(x_train) - y_train)^2), perhaps on
                minibatches) or "user" (your own loss, labelled user-defined by the analyzer, `loss_name`
                naming it). None: the MSE, checked at the first step that has both a loss and a checkpoint of
                the model; a loss that differs by more than trainer.runfile.loss_log.MSE_TOLERANCE is a ValueError.
        """
        from trainer.runfile import records
        from trainer.runfile import loss_log
        from trainer import constructor as constructors
        from trainer.config import ModelSpec
        from trainer.models import param_layout

        if isinstance(constructor, ModelSpec):
            spec = constructor
        else:
            spec = records.model_spec_for(constructor or constructors.reference_of(model), constructor_kwargs)
        records.check_rebuilds(model, spec)
        data = records.check_data({"x_train": x_train, "y_train": y_train, "x_eval": x_eval, "y_eval": y_eval,
                                   records.COORDS_KEY: coords})
        target = records.describe_target(data, records.param_dtype_of(model), target_freqs_hz)
        if not target["freqs_hz"] and not target.get("degrees") and target.get("kind") == "imported":
            import warnings

            warnings.warn(f"RunWriter.for_model: no target frequencies, so no spectrum ({target['freqs_note']}): "
                          "pass coords= or target_freqs_hz=", stacklevel=2)
        layout = param_layout(model)
        resume_size = _resume_size(optimizer, layout.n_params, len(layout.names))
        loss_log.check_kind(loss_kind)
        record = loss_log.LossRecord(loss_kind or "mse", loss_name)
        run_config = {"user": config or {}, "loss": record.to_dict(), **optimizer_record(optimizer)}
        meta = records.run_meta(model, spec, data, target, source="logger", config=run_config, resume_size=resume_size)
        writer = cls.create(path, meta, overwrite=overwrite, commit_every_s=commit_every_s)
        writer.model = model
        writer._x_eval = meta.data["x_eval"]
        if loss_kind is None:
            writer._loss_check = _LossCheck(meta.data["x_train"], meta.data["y_train"])
        return writer

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        """Close: complete (diverged after a non-finite loss), or interrupted when an exception leaves the block."""
        if not self.closed:
            self.close("interrupted" if exc_type is not None else "diverged" if self._diverged else "complete")
        return False

    def log_predictions(self, step: int, pred=None) -> None:
        """Predictions at `step`: `pred` (G, out_dim), or model(x_eval) in eval mode without gradients."""
        if pred is None:
            if self.model is None:
                raise ValueError("log_predictions without pred needs a writer made by RunWriter.for_model")
            pred = _predict(self.model, self._x_eval)
        elif hasattr(pred, "detach"):
            pred = pred.detach().cpu().numpy()
        pred = np.asarray(pred)
        self.log_pred(step, pred.reshape(len(pred), -1))

    def _state_packer(self, optimizer):
        """The optimizer state as the trainer packs it (a callable, evaluated at commit), checked for room."""
        if optimizer is None or isinstance(optimizer, np.ndarray) or callable(optimizer):
            return optimizer
        from trainer.optim import pack_optimizer_state

        def pack() -> np.ndarray:
            state = pack_optimizer_state(optimizer)
            if state.size > self._resume_capacity:
                raise ValueError(f"{type(optimizer).__name__} state needs {state.size} numbers, the run file "
                                 f"has room for {self._resume_capacity}: pass optimizer= to RunWriter.for_model")
            return state

        return pack


def optimizer_record(optimizer) -> dict:
    """{"optimizer": class name, "lr": first group's rate} of a torch optimizer; {} for anything else."""
    groups = getattr(optimizer, "param_groups", None)
    if not groups:
        return {}
    lr = groups[0].get("lr")
    return {"optimizer": type(optimizer).__name__, "lr": float(lr) if isinstance(lr, (int, float)) else None}


class _LossCheck:
    """The first loss logged at a step that also has a model checkpoint, compared with the MSE there."""

    def __init__(self, x_train: np.ndarray, y_train: np.ndarray):
        self.x_train, self.y_train = x_train, y_train
        self.mse: dict[int, float] = {}
        self.logged: dict[int, float] = {}
        self.done = False  # checked once, at the start: a long run is never stopped later by a noisy step

    def at_checkpoint(self, step: int, model) -> None:
        if self.done:
            return
        pred = _predict(model, self.x_train).reshape(self.y_train.shape)
        self.mse = {step: float(np.mean((pred.astype(np.float64) - self.y_train) ** 2))}
        self._compare(step)

    def at_log(self, step: int, loss: float) -> None:
        if self.done:
            return
        self.logged = {step: loss}
        self._compare(step)

    def _compare(self, step: int) -> None:
        from trainer.runfile.loss_log import MSE_TOLERANCE, median_rel_diff

        if step not in self.mse or step not in self.logged:
            return
        diff = median_rel_diff(np.array([self.logged[step]]), np.array([self.mse[step]]))
        if diff > MSE_TOLERANCE:
            raise ValueError(f"the loss logged at step {step} ({self.logged[step]:.6g}) is not the MSE "
                             f"mean((model(x_train) - y_train)^2) = {self.mse[step]:.6g} (relative difference "
                             f"{diff:.3g}); pass loss_kind='user' (and loss_name=) to RunWriter.for_model for your "
                             f"own loss, or loss_kind='mse' if it is an MSE on minibatches")
        self.done = True


def _resume_size(optimizer, n_params: int, n_tensors: int) -> int:
    """Room for a torch optimizer's packed state (its record's size; none for an optimizer no record covers)."""
    from trainer import optim

    record = optim.for_torch(optimizer)
    return 0 if record is None else record.state_size(n_params, n_tensors)


def _predict(model, x_eval: np.ndarray) -> np.ndarray:
    """model(x_eval) in eval mode without gradients, on the model's device and dtype; the mode is restored."""
    import torch

    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(torch.from_numpy(x_eval).to(device=param.device, dtype=param.dtype)).cpu().numpy()
    finally:
        model.train(was_training)
