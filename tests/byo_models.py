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
