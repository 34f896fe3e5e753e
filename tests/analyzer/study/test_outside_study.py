"""Outside runs at study scale: research-style loops logged through RunWriter.for_model, as a user writes them.

Two conditions, four seeds each, the seed passed in the loop's `config` (as research code does):
- a LayerNorm + tanh MLP on x itself, fitting four sines of equal amplitude in adjacent DFT bins (1-4 Hz on [0, 1));
- a ReLU MLP fed a 12-D sin/cos encoding of x, with `coords=x` (the spectrum reads the frequencies on x).
`analyze study` must give one group per condition (never one per seed), track every target frequency, judge the
learning order by what the runs' learned steps say, and read the encoded runs' spectrum on their coordinate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from torch import nn

from analyzer.study.build import build_study
from analyzer.study.collect import StudyOptions, collect_paths, summarize_run
from trainer import RunWriter

G = 128
HZ = (1, 2, 3, 4)  # equal amplitudes in adjacent bins: a picker of strict local maxima loses some of them
SEEDS = range(4)
STEPS = 600


class LayerNormTanh(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(1, width), nn.LayerNorm(width), nn.Tanh(), nn.Linear(width, width),
                               nn.Tanh(), nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class EncodedReLU(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(12, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.f(z)


def encode(x: np.ndarray) -> np.ndarray:
    k = np.arange(1, 7)
    return np.concatenate([np.sin(2 * np.pi * k * x), np.cos(2 * np.pi * k * x)], axis=1)


def research_loop(path, config: dict) -> None:
    """A loop in the style of research code: hyperparameters (the seed among them) in one config dict."""
    torch.manual_seed(config["seed"])
    x = (np.arange(G) / G)[:, None]
    y = sum(0.5 * np.sin(2 * np.pi * f * x) for f in HZ)
    encoded = config["model"] == "encoded"
    inputs = encode(x) if encoded else x
    model = EncodedReLU(config["width"]) if encoded else LayerNormTanh(config["width"])
    constructor = f"test_outside_study:{type(model).__name__}"
    xt, yt = torch.tensor(inputs, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    with RunWriter.for_model(path, model, xt, yt, constructor=constructor,
                             constructor_kwargs={"width": config["width"]}, optimizer=optimizer, config=config,
                             **({"coords": x} if encoded else {})) as run:
        for step in range(config["steps"]):
            if step % 10 == 0:
                run.checkpoint(step, model, optimizer)
                run.log_predictions(step)
            loss = torch.mean((model(xt) - yt) ** 2)
            optimizer.zero_grad()
            loss.backward()
            run.log_step(step, loss)
            optimizer.step()
        run.checkpoint(config["steps"], model)
        run.log_predictions(config["steps"])


@pytest.fixture(scope="module")
def outside_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outside-study")
    for model in ("tanh", "encoded"):
        for seed in SEEDS:
            research_loop(folder / f"{model}-s{seed}.h5",
                          {"seed": seed, "model": model, "width": 32, "lr": 3e-3, "steps": STEPS})
    options = StudyOptions(hessian=False, n_resamples=500)
    return build_study([summarize_run(str(p), options) for p in collect_paths([folder])], options)


def test_one_group_per_condition_never_per_seed(outside_study):
    groups = {outside_study.group_of[r.path] for r in outside_study.runs}
    assert len(outside_study.runs) == 8 and len(groups) == 2
    assert sorted(r.seed for r in outside_study.runs) == sorted(list(SEEDS) * 2)  # the config's seed is the run's
    assert "seed" in outside_study.grouping.describe()  # the report says what never splits a group


def test_every_target_frequency_is_tracked_on_x_and_on_coords(outside_study):
    table = outside_study.results["spectral_bias"]["table"]
    for group, rows in table.groupby("group"):
        # the tanh runs see x in [0, 1) directly, the encoded ones through coords: both on 1-4 Hz
        assert sorted(rows["mode"]) == [float(f) for f in HZ], group
        assert (rows.n == len(SEEDS)).all()


def test_the_learning_order_verdict_follows_the_learned_steps(outside_study):
    """Each run's Kendall tau-b between frequency and learned step (scipy, from the runs' learned steps; a mode never
    learned counts at the run length, ties allowed); the study's pooled tau is their mean and its verdict follows it:
    holds when significantly positive after the family's adjustment, "does not hold" only when significantly
    negative, else not shown."""
    taus, by_model = [], {}
    for run, extract in outside_study.extracts("spectral_bias"):
        steps = np.where(np.isnan(extract.learned_steps), run.n_steps, extract.learned_steps)
        tau = kendalltau(extract.modes, steps).statistic
        taus.append(tau)
        by_model.setdefault(run.label.split("-")[0], []).append(tau)
    assert len(taus) == 8
    pooled = outside_study.results["spectral_bias"]["tests"]["equal amplitudes"]
    assert pooled["mean_tau"] == pytest.approx(np.nanmean(taus), abs=1e-12)
    assert np.nanmin(by_model["tanh"]) > 0  # the tanh nets learn 1 Hz before 4 Hz in every seed
    test = next(r for r in outside_study.family if r.name.startswith("learning order"))
    verdict = next(v for v in outside_study.verdicts if v.claim == "spectral_bias")
    significant = test.p_adjusted < 0.05
    expected = "holds" if significant and pooled["mean_tau"] > 0 else "does not hold" if significant else "not shown"
    assert verdict.verdict == expected, (verdict, test)
