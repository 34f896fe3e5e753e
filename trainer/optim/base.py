"""The optimizer record: what the trainer and the analyzer know of one optimizer, in one place.

A record names the optimizer, builds its `torch.optim` object (the torch engine), applies its update to
lists of tensors (the fused and batched engines: one functional step, the same ATen kernels torch.optim's
single-tensor path calls, so the engines keep torch's bits), says how big its resume state is and packs /
unpacks it, and declares properties the analyzer reads (`is_plain_gd`) instead of comparing names.

The resume vector (docs/run-file.md, `/resume/state`) is float64: each per-parameter buffer in `moments`
order over all P parameters in `named_parameters()` order, then one step count per parameter tensor when
the optimizer counts steps. An optimizer without state packs to an empty vector.

torch is imported inside the methods: the analyzer reads the declared properties without paying for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trainer.errors import ConfigError


@dataclass
class OptimState:
    """An optimizer's state for the functional step: per-parameter buffers (one list per moment, each shaped
    like `params`) and the number of steps taken (equal for every trained tensor)."""

    moments: dict[str, list] = field(default_factory=dict)
    step: int = 0


@dataclass(frozen=True)
class Optimizer:
    """One optimizer. Subclasses write `torch_class` (and `torch_options`) and `step`; the rest follows from the
    declared fields.

    Fields:
        name: the name in configs and run files (`--optimizer NAME`).
        summary: one line for help texts and reports.
        is_plain_gd: a full-batch trainer run with it is plain gradient descent at a fixed rate (theta -= lr g),
            the regime of the closed-form kernel rates; None when not known (an unrecorded optimizer).
        moments: the per-parameter buffers of its state, named as torch.optim names them.
        counts_steps: its torch state holds a per-tensor `step` count (packed after the moments).
    """

    name: str
    summary: str
    is_plain_gd: bool | None
    moments: tuple[str, ...] = ()
    counts_steps: bool = False
    known: bool = True

    # ---- what a subclass writes --------------------------------------------------------------
    def torch_class(self) -> type:
        """The torch.optim class (the torch engine's optimizer)."""
        raise NotImplementedError

    def torch_options(self) -> dict:
        """Keyword arguments of `torch_class` besides the parameters and lr."""
        return {}

    def step(self, params: list, grads: list, state: OptimState, lr) -> tuple[list, OptimState]:
        """One update of `params` (in place, returned) from `grads`; `state` advanced in place and returned.

        `lr`: a float, or a float64 tensor of shape (R,) with one rate per member when every tensor in `params`
        stacks R members on its first axis (the batched engine).
        """
        raise NotImplementedError

    def make_torch(self, params, lr: float):
        """The torch.optim optimizer over `params` (the torch engine's)."""
        return self.torch_class()(params, lr=lr, **self.torch_options())

    # ---- state ---------------------------------------------------------------------------------
    def init_state(self, params: list) -> OptimState:
        """Zero buffers shaped like `params`, no steps taken (torch.optim's state before its first step)."""
        import torch

        return OptimState({key: [torch.zeros_like(p) for p in params] for key in self.moments}, 0)

    def state_size(self, n_params: int, n_tensors: int) -> int:
        """Numbers in the packed resume vector of a model with `n_params` parameters in `n_tensors` tensors."""
        return len(self.moments) * n_params + (n_tensors if self.counts_steps else 0)

    def pack(self, moments: list, steps) -> np.ndarray:
        """The resume vector from flat per-moment buffers (each of length P, `moments` order) and the
        per-tensor step counts."""
        parts = [np.asarray(_to_numpy(m), dtype=np.float64).reshape(-1) for m in moments]
        if self.counts_steps:
            parts.append(np.asarray(steps, dtype=np.float64).reshape(-1))
        return np.concatenate(parts) if parts else np.zeros(0)

    def unpack(self, vector, n_params: int, n_tensors: int) -> tuple[list[np.ndarray], np.ndarray]:
        """(flat float64 buffer per moment, step count per tensor) from a resume vector (`pack`'s inverse)."""
        vector = np.asarray(vector, dtype=np.float64)
        if vector.size < self.state_size(n_params, n_tensors):
            raise ValueError(f"{self.name} state needs {self.state_size(n_params, n_tensors)} numbers, "
                             f"the resume vector has {vector.size}")
        moments = [vector[i * n_params:(i + 1) * n_params] for i in range(len(self.moments))]
        start = len(self.moments) * n_params
        steps = vector[start:start + n_tensors] if self.counts_steps else np.zeros(n_tensors)
        return moments, steps

    # ---- a torch.optim optimizer's state ---------------------------------------------------------
    def pack_torch(self, optimizer) -> np.ndarray:
        """The resume vector of a torch.optim optimizer this record made (absent state: zeros, step 0)."""
        import torch

        params = [p for group in optimizer.param_groups for p in group["params"]]
        moments = []
        for key in self.moments:
            values = [optimizer.state.get(p, {}).get(key, torch.zeros_like(p)) for p in params]
            moments.append(torch.cat([v.detach().reshape(-1).to(torch.float64).cpu() for v in values]))
        steps = [float(optimizer.state.get(p, {}).get("step", 0.0)) for p in params]
        return self.pack(moments, steps)

    def unpack_torch(self, optimizer, vector) -> None:
        """Load a resume vector into a torch.optim optimizer this record made (a tensor at step 0 is left for
        the optimizer to initialise on its first step, as torch does)."""
        if not self.moments and not self.counts_steps:
            return
        import torch

        params = [p for group in optimizer.param_groups for p in group["params"]]
        sizes = [p.numel() for p in params]
        moments, steps = self.unpack(vector, sum(sizes), len(params))
        split = [torch.split(torch.from_numpy(np.ascontiguousarray(m)), sizes) for m in moments]
        scalar_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
        for i, p in enumerate(params):
            if float(steps[i]) == 0.0:
                continue
            state = {"step": torch.tensor(float(steps[i]), dtype=scalar_dtype)} if self.counts_steps else {}
            for key, parts in zip(self.moments, split):
                state[key] = parts[i].to(p.dtype).reshape(p.shape).clone().to(p.device)
            optimizer.state[p] = state


@dataclass(frozen=True)
class UnknownOptimizer(Optimizer):
    """An optimizer name no record covers (an imported run's, or none recorded): nothing is assumed of it."""

    is_plain_gd: bool | None = None
    known: bool = False
    choices: tuple[str, ...] = ()  # the registered names, for the message

    def _refuse(self):
        raise ConfigError(f"unknown optimizer {self.name!r}; choose one of {', '.join(self.choices)}")

    def torch_class(self) -> type:
        self._refuse()

    def step(self, params, grads, state, lr):
        self._refuse()

    def state_size(self, n_params: int, n_tensors: int) -> int:
        self._refuse()


def per_member(lr, params: list) -> list:
    """A (R,) float64 rate tensor as one factor per tensor in `params`, in its dtype and broadcasting over
    everything but the member axis (rounded once from float64, as a float rate is)."""
    return [lr.to(dtype=p.dtype, device=p.device).view(-1, *([1] * (p.dim() - 1))) for p in params]


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().to("cpu").double().numpy()
    return np.asarray(value)
