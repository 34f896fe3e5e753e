"""The Hessian trace: exact on piecewise-linear networks (Gauss-Newton identity) against the dense float64 Hessian,
proven piecewise-linear only from the model's graph, a labelled Hutchinson estimate elsewhere, and the certify
budget deciding from the cost plan."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from byo_models import EncodedMLP, TinyNet
from torch import nn
from typer.testing import CliRunner

from analyzer import analyze, open_run
from analyzer.analyses.hessian import HessianParams
from analyzer.cli import app as analyze_app
from analyzer.curvature.cost import estimate_reason
from analyzer.curvature.piecewise import piecewise_linear_reason
from analyzer.curvature.trace import identity_trace
from analyzer.io.model import loss_closure
from analyzer.linalg.operators.dense import MatrixOperator
from analyzer.linalg.trace import hutchinson_trace
from trainer import RunWriter
from trainer.models import flatten, functional_forward, param_layout

TINY_BUDGET = 1e-9  # seconds: no certified run fits, so auto estimates


def dense_oracle(loss_fn, theta: torch.Tensor) -> tuple[float, float]:
    """(diagonal sum, eigenvalue sum) of the dense float64 Hessian by torch.autograd.functional and numpy."""
    hess = torch.autograd.functional.hessian(loss_fn, theta.to(torch.float64))
    return float(torch.diagonal(hess).sum()), float(np.linalg.eigvalsh(((hess + hess.T) / 2).numpy()).sum())


def regression(in_dim: int, out_dim: int, n: int = 60, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, in_dim, generator=gen, dtype=torch.float64)
    return x, torch.sin(3 * x[:, :out_dim]) + 0.1 * torch.randn(n, out_dim, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_identity_trace_equals_the_dense_hessian(activation):
    torch.manual_seed(1)
    model = EncodedMLP(in_dim=5, width=9, depth=3, out_dim=2, activation=activation).double()
    layout, theta = param_layout(model), flatten(model).double()
    x, y = regression(5, 2)
    loss_fn = lambda t: torch.mean((functional_forward(model, layout, t, x) - y) ** 2)  # noqa: E731
    value, why = identity_trace(model, layout, theta, x.numpy(), y.numpy(), loss_fn)
    diagonal, eigen = dense_oracle(loss_fn, theta)
    assert value is not None, why
    assert value == pytest.approx(diagonal, rel=1e-8) and value == pytest.approx(eigen, rel=1e-8)
    assert value > 0


class Squared(nn.Module):
    def forward(self, x):
        return x * x


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 4)

    def forward(self, x):
        return self.layer(torch.relu(self.layer(x)))


@pytest.mark.parametrize("model", [
    nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1)),
    nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 1)),
    nn.Sequential(nn.Linear(4, 4), nn.Softplus(), nn.Linear(4, 1)),
    nn.Sequential(nn.Linear(4, 4), Squared(), nn.Linear(4, 1)),
    Tied(), TinyNet(),
], ids=["tanh", "layernorm", "unknown-module", "square", "tied-weights", "tinynet"])
def test_models_that_are_not_proven_piecewise_linear(model):
    proven, why = piecewise_linear_reason(model)
    assert not proven and why.startswith("not proven piecewise-linear")
    x, y = regression(4, 1, n=8)
    assert identity_trace(model.double(), param_layout(model), flatten(model).double(), x.numpy(), y.numpy())[0] is None


def test_piecewise_linear_models_are_proven():
    class Features(nn.Module):  # sin/cos of the input (no parameters), a scaled ReLU net, dropout off
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 6), nn.LeakyReLU(0.2), nn.Dropout(0.0), nn.Linear(6, 1))
            self.scale = nn.Parameter(torch.tensor(0.5))

        def forward(self, x):
            features = torch.cat([torch.sin(x), torch.cos(x)], dim=-1)
            return self.scale * self.body(features) / 2.0

    assert piecewise_linear_reason(Features())[0]
    assert piecewise_linear_reason(EncodedMLP(activation="relu"))[0]


def test_hutchinson_meets_its_standard_error_on_a_known_matrix():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    values = np.concatenate([[50.0, 20.0, -8.0], rng.uniform(-0.5, 1.0, 297)])
    matrix = (q * values) @ q.T
    plain = hutchinson_trace(MatrixOperator(matrix), rel_se=0.1, max_probes=2000, seed=0)
    deflated = hutchinson_trace(MatrixOperator(matrix), rel_se=0.1, max_probes=2000, seed=0, vectors=q[:, :3])
    for found in (plain, deflated):
        assert not found.capped and found.standard_error <= 0.1 * abs(found.value)
        assert abs(found.value - values.sum()) <= 4 * found.standard_error
    assert deflated.probes < plain.probes and deflated.deflated == 3
    capped = hutchinson_trace(MatrixOperator(matrix), rel_se=1e-6, max_probes=20, seed=0)
    assert capped.capped and capped.probes == 20


def logged_run(path, activation: str, layer_norm: bool = False):
    """A research-style loop on a 4-D input with 2 outputs (P = 242), logged through RunWriter.for_model."""
    torch.manual_seed(0)
    kwargs = {"in_dim": 4, "width": 12, "depth": 2, "out_dim": 2, "activation": activation, "layer_norm": layer_norm}
    model = EncodedMLP(**kwargs).double()
    x, y = regression(4, 2, n=50)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    with RunWriter.for_model(path, model, x, y, constructor="byo_models:EncodedMLP", constructor_kwargs=kwargs,
                             commit_every_s=0.0) as run:
        for step in range(6):
            if step in (0, 5):
                run.checkpoint(step, model)
            loss = torch.mean((model(x) - y) ** 2)
            optimizer.zero_grad()
            loss.backward()
            run.log_step(step, loss)
            optimizer.step()
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace")
    return {name: logged_run(folder / f"{name}.h5", name) for name in ("relu", "tanh")}


def exact_trace(path, step: int) -> float:
    with open_run(path) as run:
        theta = torch.from_numpy(np.asarray(run.params_at(step))).to(torch.float64)
        return dense_oracle(loss_closure(run, "float64"), theta)[0]


def test_relu_run_gets_the_exact_identity_where_the_index_is_estimated(runs):
    result = analyze(runs["relu"], "hessian", steps=(0, 5), certify_budget_s=TINY_BUDGET, use_cache=False)
    table = result.table
    assert list(table["index_kind"]) == ["estimate", "estimate"]
    assert list(table["trace_kind"]) == ["exact-gauss-newton-identity"] * 2
    for _, row in table.iterrows():
        assert row["trace"] == pytest.approx(exact_trace(runs["relu"], int(row["step"])), rel=1e-8)
    assert "--certify-budget-s" in table["index_note"].iloc[0]


def test_tanh_run_gets_a_labelled_estimate_within_its_error(runs):
    result = analyze(runs["tanh"], "hessian", steps=(0, 5), certify_budget_s=TINY_BUDGET, use_cache=False)
    for _, row in result.table.iterrows():
        exact = exact_trace(runs["tanh"], int(row["step"]))
        assert row["trace_kind"] == "estimate" and "not proven piecewise-linear" in row["trace_note"]
        assert row["trace_err"] <= 0.1 * abs(row["trace"])
        assert abs(row["trace"] - exact) <= 4 * row["trace_err"]
    shown = result.tables()["Hessian at checkpoints"]
    assert list(shown["trace_kind"]) == ["estimate", "estimate"] and "(SE)" in shown["trace"].iloc[0]
    assert "trace estimate at 2" in result.headline()


def test_certified_run_traces_are_exact_and_the_json_says_so(runs):
    result = CliRunner().invoke(analyze_app, ["hessian", str(runs["tanh"]), "--steps", "5", "--no-cache", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["table"][0]
    assert row["index_kind"] == "certified" and row["trace_kind"] == "exact"
    assert row["trace"] == pytest.approx(exact_trace(runs["tanh"], 5), rel=1e-7)


def test_the_budget_decides_from_the_cost_plan():
    tiny, default = HessianParams(certify_budget_s=TINY_BUDGET), HessianParams()
    assert estimate_reason(tiny, 500, hvp_s=1e-3).startswith("planned certified run")
    assert "--certify-budget-s 1e-09" in estimate_reason(tiny, 500, hvp_s=1e-3)
    assert estimate_reason(default, 500, hvp_s=1e-3) == ""
    # fewer live parameters lower the plan: 20,000 parameters at 10 ms per HVP exceed 60 s, 2,000 live do not
    assert estimate_reason(default, 20_000, hvp_s=1e-2) != "" and estimate_reason(default, 20_000, 1e-2, 2_000) == ""
    assert estimate_reason(HessianParams(index_method="certified", certify_budget_s=TINY_BUDGET), 500, 1e-3) == ""


def test_a_linearised_twin_is_affine_so_its_identity_trace_is_exact():
    from trainer.linearized import Linearized

    torch.manual_seed(2)
    network = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    twin = Linearized(network, flatten(network).double())
    layout = param_layout(twin)
    theta = flatten(network).double() + 0.3 * torch.randn(layout.n_params, dtype=torch.float64)
    x, y = regression(3, 2, n=20)
    loss_fn = lambda t: torch.mean((functional_forward(twin, layout, t, x) - y) ** 2)  # noqa: E731
    value, why = identity_trace(twin, layout, theta, x.numpy(), y.numpy(), loss_fn)
    assert "linearised twin" in why and value == pytest.approx(dense_oracle(loss_fn, theta)[0], rel=1e-8)
