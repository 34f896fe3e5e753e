"""State dicts turned into flat parameter vectors of one model: key prefixes fitted, anything that does not fit
refused with the reason.

Training wrappers rename every key: DataParallel / DistributedDataParallel add `module.`, torch.compile adds
`_orig_mod.`. Those prefixes are stripped when that alone makes the keys fit the model. Other prefixes (a
LightningModule holding the network as `self.model` saves `model.f.0.weight`) are stripped only when named
(`--key-prefix model.`): keys outside the prefix are then left out, since such a checkpoint may hold other
modules (a loss, a teacher) beside the network. What was done is said once, in `notes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trainer.errors import ConfigError

WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DDP, torch.compile


class StateChecker:
    """Turns state dicts into flat parameter vectors of one model, refusing any that does not fit it.

    Parameters are taken in `named_parameters()` order (the run file's layout); buffers must equal the
    constructed model's, because a run file stores parameters only. How keys are renamed is settled on the
    first state dict and applied to every later one.
    """

    def __init__(self, model: torch.nn.Module, description: str, key_prefix: str | None = None):
        self.description = description
        self.params = dict(model.named_parameters())
        self.expected = model.state_dict()  # parameters, persistent buffers, and aliases of tied weights
        pointers = {p.data_ptr() for p in self.params.values()}
        self.buffers = {k: v for k, v in self.expected.items() if k not in self.params and v.data_ptr() not in pointers}
        self.key_prefix = key_prefix or None
        self.stripped: tuple[str, ...] | None = None  # wrapper prefixes stripped, settled on the first state dict
        self.notes: list[str] = []
        self.dtype: torch.dtype | None = None
        self.first: str | None = None

    def flat(self, state: dict[str, torch.Tensor], path: Path, name: str | None = None) -> np.ndarray:
        name = name or path.name
        state = self._renamed(state, name)
        problem = self._mismatch(state)
        if problem:
            if self.first is None:
                raise ConfigError(f"{name} does not fit the model {self.description}: {problem}")
            raise ConfigError(f"{name}: architecture differs from the earlier checkpoints (first {self.first}, which "
                              f"fits {self.description}): {problem}")
        dtypes = {state[key].dtype for key in self.params}
        if len(dtypes) != 1 or not dtypes <= {torch.float32, torch.float64}:
            raise ConfigError(f"{name}: parameters are {sorted(str(d) for d in dtypes)}; import reads "
                              f"float32 or float64 checkpoints")
        dtype = dtypes.pop()
        if self.dtype is None:
            self.dtype, self.first = dtype, name
        elif dtype != self.dtype:
            raise ConfigError(f"{name}: parameters are {dtype}, those of {self.first} {self.dtype}")
        self._check_buffers(state, name)
        return torch.cat([state[key].detach().reshape(-1) for key in self.params]).numpy()

    # ---- keys -------------------------------------------------------------------------------------
    def _renamed(self, state: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
        """The state under the model's names: the --key-prefix taken, then the wrapper prefixes settled on first."""
        if self.key_prefix is not None:
            inside = {k[len(self.key_prefix):]: v for k, v in state.items() if k.startswith(self.key_prefix)}
            if not inside:
                raise ConfigError(f"{name}: no key starts with --key-prefix {self.key_prefix!r} (keys "
                                  f"{_names(list(state))})")
            if self.stripped is None and len(inside) < len(state):
                self.notes.append(f"left out {len(state) - len(inside)} keys outside {self.key_prefix!r} "
                                  f"({_names([k for k in state if not k.startswith(self.key_prefix)], 3)})")
            state = inside
        if self.stripped is None:
            self._settle(state, name)
        for prefix in self.stripped:
            state = {k.removeprefix(prefix): v for k, v in state.items()}
        return state

    def _settle(self, state: dict[str, torch.Tensor], name: str) -> None:
        """Strip wrapper prefixes from the first state dict only where that makes its keys fit; else refuse it."""
        stripped: list[str] = []
        keys = list(state)
        while self._mismatch_keys(keys):
            prefix = next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in keys)), None)
            if prefix is None:
                break
            stripped.append(prefix)
            keys = [k.removeprefix(prefix) for k in keys]
        problem = self._mismatch_keys(keys)
        if problem:
            raise ConfigError(f"{name} does not fit the model {self.description}: {self._mismatch_keys(list(state))}"
                              f"{self._prefix_hint(list(state))}")
        self.stripped = tuple(stripped)
        if self.key_prefix is not None:
            self.notes.insert(0, f"keys: --key-prefix {self.key_prefix!r} stripped")
        if stripped:
            self.notes.append(f"keys: wrapper prefix {''.join(stripped)!r} stripped ("
                              + ", ".join(_WRAPPER_WORDS[p] for p in stripped) + ")")

    def _prefix_hint(self, keys: list[str]) -> str:
        """'; every key starts with 'model.': pass --key-prefix model.' where that prefix would make them fit."""
        heads = {k.split(".", 1)[0] for k in keys if "." in k}
        for head in sorted(heads):
            prefix = head + "."
            inside = [k.removeprefix(prefix) for k in keys if k.startswith(prefix)]
            while inside and self._mismatch_keys(inside) is not None:
                wrapper = next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in inside)), None)
                if wrapper is None:
                    break
                inside = [k.removeprefix(wrapper) for k in inside]
            if inside and self._mismatch_keys(inside) is None:
                return f"; the keys under {prefix!r} fit it: pass --key-prefix {prefix}"
        return ""

    def _mismatch_keys(self, keys: list[str]) -> str | None:
        present = set(keys)
        missing = [k for k in self.expected if k not in present]
        unexpected = [k for k in keys if k not in self.expected]
        if missing or unexpected:
            parts = [f"missing keys {_names(missing)}" if missing else "",
                     f"unexpected keys {_names(unexpected)}" if unexpected else ""]
            return "; ".join(p for p in parts if p)
        return None

    def _mismatch(self, state: dict[str, torch.Tensor]) -> str | None:
        problem = self._mismatch_keys(list(state))
        if problem:
            return problem
        for key, ref in self.expected.items():
            if tuple(state[key].shape) != tuple(ref.shape):
                return f"{key} has shape {tuple(state[key].shape)}, the model's is {tuple(ref.shape)}"
        return None

    def _check_buffers(self, state: dict[str, torch.Tensor], name: str) -> None:
        """Buffers as the constructor makes them (to float32 rounding: it may compute them in float32 and
        the model then be cast), since the analyzer rebuilds them that way."""
        for key, ref in self.buffers.items():
            value = state[key]
            same = (torch.allclose(value.to(ref.dtype), ref, rtol=1e-6, atol=0.0) if ref.is_floating_point()
                    else torch.equal(value, ref))
            if not same:
                raise ConfigError(f"{name}: buffer {key} differs from the one {self.description} builds; a run "
                                  f"file stores parameters only, so the analyzer could not rebuild this model")


_WRAPPER_WORDS = {"module.": "DataParallel / DistributedDataParallel", "_orig_mod.": "torch.compile"}


def _names(keys: list[str], shown: int = 5) -> str:
    return ", ".join(keys[:shown]) + (f" (+{len(keys) - shown} more)" if len(keys) > shown else "")
