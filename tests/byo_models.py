"""Models that are not ours, for the bring-your-own-run tests (importable as `byo_models:TinyNet`)."""

from __future__ import annotations

import math

import torch
from torch import nn


class TinyNet(nn.Module):
    """Fourier features of x, one residual tanh block and a learned output scale: nothing like our MLPs.

    Has a persistent buffer (the feature frequencies), a 0-d parameter and nested module names.
    """

    def __init__(self, width: int = 12, n_features: int = 3):
        super().__init__()
        self.register_buffer("freqs", 2 * math.pi * torch.arange(1, n_features + 1, dtype=torch.float32))
        self.embed = nn.Linear(2 * n_features, width)
        self.block = nn.Sequential(nn.Linear(width, width), nn.Tanh())
        self.head = nn.Linear(width, 1)
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phase = x * self.freqs.to(x.dtype)
        hidden = torch.tanh(self.embed(torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)))
        hidden = hidden + self.block(hidden)
        return self.scale * self.head(hidden)


class EncodedMLP(nn.Module):
    """An MLP on a multi-D input (e.g. a positional encoding), with any of a few activations and, optionally,
    LayerNorm after each hidden layer: the outside models of the Hessian-trace tests and bench."""

    ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.1), "tanh": nn.Tanh}

    def __init__(self, in_dim: int = 12, width: int = 16, depth: int = 2, out_dim: int = 1,
                 activation: str = "relu", layer_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Linear(in_dim if i == 0 else width, width))
            if layer_norm:
                layers.append(nn.LayerNorm(width))
            layers.append(self.ACTIVATIONS[activation]())
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_tiny(width: int = 12) -> TinyNet:
    """A factory function (the constructor may be any callable, not only a class)."""
    return TinyNet(width=width)


class FlatOutput(nn.Module):
    """Returns shape (N,) instead of (N, 1): refused, since the loss would broadcast."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)[:, 0]


# ---- a plain PyTorch loop that knows nothing of this project ------------------------------------------
def target(x):
    import numpy as np

    return np.sin(2 * np.pi * x) + 0.5 * np.sin(2 * np.pi * 4 * x)


def save_points(steps: int) -> list[int]:
    """Every step up to 19 (predictions dense enough for the spectrum), then every 10, and the final step."""
    return sorted(set(range(min(20, steps))) | set(range(0, steps + 1, 10)) | {steps})


def train_and_save(folder, *, steps: int = 300, width: int = 6, n_points: int = 64, seed: int = 0,
                   dtype=torch.float32) -> dict:
    """Full-batch Adam on `target`, saving state dicts as ckpt_000010.pt (even save points) and
    model-step10.safetensors (odd ones); data.npz and losses.csv (step,loss before each update) beside.

    Returns the paths and, per saved step, the state dict (cloned) for oracle checks.
    """
    import numpy as np
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    x = (np.arange(n_points) / n_points)[:, None]
    y = target(x)
    data = folder.parent / "data.npz"
    np.savez(data, x_train=x, y_train=y)
    torch.manual_seed(seed)
    model = TinyNet(width=width).to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    xt, yt = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
    saved, lines = {}, ["step,loss"]
    for step in range(steps + 1):
        if step in save_points(steps):
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            saved[step] = state
            if len(saved) % 2:
                torch.save(state, folder / f"ckpt_{step:06d}.pt")
            else:
                save_file(state, str(folder / f"model-step{step}.safetensors"))
        if step == steps:
            break
        loss = torch.mean((model(xt) - yt) ** 2)
        lines.append(f"{step},{loss.item()!r}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    losses = folder.parent / "losses.csv"
    losses.write_text("\n".join(lines) + "\n")
    return {"folder": folder, "data": data, "losses": losses, "states": saved, "x": x, "y": y}


# ---- an F-Principle-style loop: a ReLU MLP that is none of our presets, a loss with a derivative term -----
class FPNet(nn.Module):
    """A plain ReLU MLP 1-30-40-30-1 built from nn.Sequential (widths given as a list)."""

    def __init__(self, widths=(30, 40, 30)):
        super().__init__()
        dims = [1, *widths, 1]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def fprinciple_folder(root, *, steps: int = 200, every: int = 10, n_points: int = 200, batches: int = 4) -> dict:
    """Adam on sin x + sin 3x + sin 5x over [-pi, pi), loss = MSE + MSE of the x-derivative, minibatch gradients
    accumulated over each step; checkPoint_{step}.pt every `every` steps, train_log.csv with
    step,loss,recon_loss,grad_loss (recon_loss is the MSE part, averaged over the minibatches: the full-batch MSE)."""
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    (root / "ckpts").mkdir(exist_ok=True)
    x = np.linspace(-np.pi, np.pi, n_points + 1)[:-1, None]
    y = np.sin(x) + np.sin(3 * x) + np.sin(5 * x)
    np.savez(root / "data.npz", x_train=x, y_train=y)
    torch.manual_seed(0)
    model = FPNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    slope = torch.tensor(np.cos(x) + 3 * np.cos(3 * x) + 5 * np.cos(5 * x), dtype=torch.float32)
    order = torch.Generator().manual_seed(1)
    lines = ["step,loss,recon_loss,grad_loss"]
    for step in range(steps + 1):
        if step % every == 0:
            torch.save(model.state_dict(), root / "ckpts" / f"checkPoint_{step}.pt")
        if step == steps:
            break
        optimizer.zero_grad()
        totals = [0.0, 0.0, 0.0]
        for batch in torch.randperm(n_points, generator=order).split(n_points // batches):
            xb = xt[batch].clone().requires_grad_(True)
            out = model(xb)
            recon = torch.mean((out - yt[batch]) ** 2)
            (derivative,) = torch.autograd.grad(out.sum(), xb, create_graph=True)
            grad_loss = torch.mean((derivative - slope[batch]) ** 2)
            ((recon + grad_loss) / batches).backward()
            for i, value in enumerate((recon + grad_loss, recon, grad_loss)):
                totals[i] += value.item() / batches
        lines.append(f"{step}," + ",".join(repr(v) for v in totals))
        optimizer.step()
    (root / "train_log.csv").write_text("\n".join(lines) + "\n")
    return {"folder": root / "ckpts", "data": root / "data.npz", "losses": root / "train_log.csv",
            "recon": np.loadtxt(root / "train_log.csv", delimiter=",", skiprows=1)}
