"""Linearised twins (`train run --linearize`): trained f(x; theta_0) + J_0 (theta - theta_0) against an independent
float64 oracle (the kernel at init from plain autograd of a hand-written MLP), and the analyzer's view of them: the
NTK's rates exact, the Hessian (2 / (N o)) J_0^T J_0 with index 0 at every checkpoint, no plain-MLP fast path."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from crash_helpers import assert_same_run, finish, kill_at
from helpers import small_config, sphere_config
from typer.testing import CliRunner

from twin_oracle import oracle

from analyzer.io.run import open_run
from trainer.cli import app
from trainer.engines.loop import resume, train
from trainer.sweep.plan import parse_grid_values, plan_sweep

# a float64 GD twin: 2 hidden x 8 ReLU (P = 97), 32 points, a_eff lambda_max ~ 0.2 (stable, every direction moves)
GD = small_config("sgd", linearize=True, dtype="float64", lr=0.05, epochs=300, ckpt_every=10,
                  model=dataclasses.replace(small_config().model, width=8),
                  target=dataclasses.replace(small_config().target, n_train=32))






@pytest.fixture(scope="module")
def gd_twin(tmp_path_factory):
    path = tmp_path_factory.mktemp("gd") / "sgd-s0-twin.h5"
    assert train(GD, path).status == "complete"
    return path


def test_gd_twin_residuals_are_the_kernel_at_init_to_the_power_t(gd_twin):
    """r_t = (I - a_eff K_0)^t r_0 at every stored step, a_eff = 2 lr / (N o): the trainer's loss is the mean over
    all N o squared residuals (checked on the logged loss)."""
    o = oracle(gd_twin)
    kernel = (o["J0"] @ o["J0"].T).numpy()
    with open_run(gd_twin) as run:
        assert np.array_equal(run.data("x_eval"), run.data("x_train"))  # predictions are on the training set
        residuals = run.pred.reshape(len(run.pred_steps), -1) - o["y"].numpy()
        steps, loss = run.pred_steps, run.loss
    np.testing.assert_allclose(loss, np.mean(residuals[:len(loss)] ** 2, axis=1), rtol=1e-13)
    a_eff = 2 * GD.lr / o["y"].numel()
    step_matrix = np.eye(len(kernel)) - a_eff * kernel
    assert 0.05 < a_eff * np.linalg.eigvalsh(kernel).max() < 1  # stable, and the top direction decays visibly
    expected, r = [], (o["f0"] - o["y"]).numpy()
    for _ in range(steps[-1] + 1):
        expected.append(r)
        r = step_matrix @ r
    expected = np.asarray(expected)[steps]
    assert np.max(np.abs(residuals - expected)) <= 1e-10 * np.max(np.abs(expected[0]))
    assert np.linalg.norm(residuals[-1]) < 0.9 * np.linalg.norm(residuals[0])


def test_twin_rebuilt_by_the_analyzer_is_the_linearisation(gd_twin):
    """The analyzer's model at a checkpoint is f_0 + J_0 (theta - theta_0); its Jacobian never moves; nothing
    treats it as a plain MLP (no layer route, no live-network Hessian)."""
    from analyzer.curvature.live import live_subnetwork
    from analyzer.io.describe import describe
    from analyzer.io.ntk_checkpoint import checkpoint_net
    from analyzer.io.ntk_net import jacobian
    from trainer.models import functional_forward

    o = oracle(gd_twin)
    with open_run(gd_twin) as run:
        assert run.linearized == {"theta0": {"dataset": "/ckpt/params", "step": 0}} and run.config["linearize"]
        model, layout = run.build_model("float64")
        theta = torch.from_numpy(run.params_at(300))
        out = functional_forward(model, layout, theta, o["x"]).reshape(-1)
        np.testing.assert_allclose(out, o["f0"] + o["J0"] @ (theta - o["theta0"]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(out, run.pred[-1].reshape(-1), rtol=0, atol=1e-12)  # the trainer's predictions
        net, _ = checkpoint_net(run, None)
        assert not net.is_mlp and live_subnetwork(run, theta) is None
        assert describe(run)["model"] == "linearised twin of 2 hidden x 8 relu"  # analyze info and the report say so
        np.testing.assert_allclose(jacobian(net, run.params_at(300)), o["J0"].numpy(), rtol=0, atol=1e-12)


def test_ntk_on_a_gd_twin_predicts_every_moving_rate(gd_twin, tmp_path):
    from analyzer.core.runner import analyze

    path = shutil.copy2(gd_twin, tmp_path / "twin.h5")
    result = analyze(path, "ntk", drift_every=1)
    table = result.table
    moving = table[(table.eigenvalue > 1e-9 * table.eigenvalue.max()) & np.isfinite(table.observed_rate)]
    assert len(moving) >= 5
    np.testing.assert_allclose(moving.observed_rate / moving.predicted_rate, 1.0, rtol=0, atol=1e-6)
    assert result.drift.relative_change.max() < 1e-12  # the twin's kernel does not move


def test_hessian_of_a_twin_is_gauss_newton_at_init_with_index_0_everywhere(gd_twin, tmp_path):
    """`analyze hessian --at grid`: certified index 0 and lambda_min >= -1e-8 lambda_max at every point, extremes
    those of (2 / (N o)) J_0^T J_0; the analyzer's loss has that Hessian to 1e-10 (against autograd + eigh)."""
    from analyzer.core.runner import analyze
    from analyzer.io.model import loss_closure
    from analyzer.linalg.operators.hessian import HessianOperator
    from analyzer.linalg.solvers import dense_hessian

    o = oracle(gd_twin)
    n_rows = o["y"].numel()

    def twin_loss(theta):  # the twin's loss from the oracle's pieces, differentiated by plain autograd
        return torch.mean((o["f0"] + o["J0"] @ (theta - o["theta0"]) - o["y"]) ** 2)

    gauss_newton = (2.0 / n_rows) * (o["J0"].T @ o["J0"])
    values = np.linalg.eigh(gauss_newton.numpy())[0]
    path = shutil.copy2(gd_twin, tmp_path / "twin.h5")
    table = analyze(path, "hessian", at="grid", per_decade=2).table
    assert list(table.step) == [0, 10, 30, 100, 300]
    assert table.index_certified.all() and (table.index_high == 0).all() and (table.index_count == 0).all()
    assert (table.lambda_min >= -1e-8 * table.lambda_max).all()
    np.testing.assert_allclose(table.lambda_max, values[-1], rtol=1e-10)
    with open_run(gd_twin) as run:
        loss = loss_closure(run, "float64")
        for step in (0, 300):
            theta = torch.from_numpy(run.params_at(step))
            oracle_hessian = torch.autograd.functional.hessian(twin_loss, theta)
            assert torch.max(torch.abs(oracle_hessian - gauss_newton)) <= 1e-12 * torch.max(torch.abs(gauss_newton))
            analyzer_hessian = dense_hessian(HessianOperator(loss, theta))
            assert torch.max(torch.abs(analyzer_hessian - gauss_newton)) <= 1e-10 * torch.max(torch.abs(gauss_newton))
    assert (table.method == "twin-gram").all() and (table.n_hvp == 0).all()  # the exact route (test_twin_hessian.py)
    # asked for, the certified subspace run on HVPs agrees
    subspace = analyze(path, "hessian", steps=(300,), method="lanczos").table
    assert subspace.method.tolist() == ["exhaustive"] and subspace.index_certified.all()
    assert (subspace.index_high == 0).all()
    np.testing.assert_allclose(subspace.lambda_max, values[-1], rtol=1e-8)


def test_adam_twin_starts_where_its_network_starts_and_trains(tmp_path):
    config = small_config(epochs=60)
    network, twin = tmp_path / "net.h5", tmp_path / "twin.h5"
    train(config, network)
    assert train(dataclasses.replace(config, linearize=True), twin).status == "complete"
    with open_run(network) as net_run, open_run(twin) as twin_run:
        assert twin_run.dtype == "float32" and twin_run.linearized is not None and net_run.linearized is None
        assert np.array_equal(net_run.params_at(0), twin_run.params_at(0))  # the same theta_0
        np.testing.assert_allclose(twin_run.loss[0], net_run.loss[0], rtol=1e-6)
        np.testing.assert_allclose(twin_run.grad_norm[0], net_run.grad_norm[0], rtol=1e-5)
        assert twin_run.loss[-1] < 0.9 * twin_run.loss[0]
        assert not np.allclose(twin_run.loss[1:], net_run.loss[1:], rtol=1e-3)  # it is not the network
        model, layout = twin_run.build_model("float64")
        from trainer.models import functional_forward

        out = functional_forward(model, layout, torch.from_numpy(twin_run.params_at(60)).double(),
                                 torch.from_numpy(twin_run.data("x_eval")).double())
        np.testing.assert_allclose(out.numpy(), twin_run.pred[-1], rtol=0, atol=1e-5)


def test_harmonics_twin_trains_on_the_sphere(tmp_path):
    path = tmp_path / "twin.h5"
    config = sphere_config(linearize=True, dtype="float64", epochs=40)
    assert train(config, path).status == "complete"
    o = oracle(path)
    with open_run(path) as run:
        assert run.data("x_train").shape[1] == 3 and run.target["kind"] == "harmonics"
        theta = torch.from_numpy(run.params_at(40))
        np.testing.assert_allclose(run.pred[-1].reshape(-1), o["f0"] + o["J0"] @ (theta - o["theta0"]),
                                   rtol=0, atol=1e-12)
        assert run.loss[-1] < run.loss[0]


def test_resume_after_a_kill_equals_an_uninterrupted_twin(tmp_path):
    config = small_config(epochs=120, linearize=True)
    reference, path = tmp_path / "reference.h5", tmp_path / "run.h5"
    train(config, reference)
    kill_at("train", config, path, "commit.marker@6")  # killed after the commit holding checkpoint 50
    finish(path, config)
    assert_same_run(path, reference)


def test_a_resumed_twin_linearises_at_its_stored_theta0(tmp_path, monkeypatch):
    """Resume reads theta_0 from the step-0 checkpoint, not from a re-drawn init (here made different)."""
    from trainer.engines import loop

    config = small_config(epochs=80, linearize=True, optimizer="sgd")
    reference, path = tmp_path / "reference.h5", tmp_path / "run.h5"
    train(config, reference)

    def interrupt(step, loss):
        if step == 33:
            raise KeyboardInterrupt

    assert train(config, path, progress=interrupt, commit_every_s=0.0).status == "interrupted"
    redrawn = loop.initial_model
    monkeypatch.setattr(loop, "initial_model", lambda c: redrawn(dataclasses.replace(c, seed=c.seed + 1)))
    assert resume(path).status == "complete"
    assert_same_run(path, reference)


def test_linearize_is_a_sweep_grid_axis_naming_the_twins():
    assert parse_grid_values("linearize", "no,yes") == (False, True)
    assert parse_grid_values("linearize", "true, 0") == (True, False)
    runs = plan_sweep(["baseline", "sgd"], (0,), {"linearize": (False, True), "lr": (0.01, 0.001)})
    assert [r.file for r in runs] == [f"{p}-s0{t}-lr{lr}.h5" for p in ("baseline", "sgd") for lr in ("0.01", "0.001")
                                      for t in ("", "-twin")]
    assert [r.config.linearize for r in runs[:4]] == [False, True, False, True]
    assert runs[1].varied == {"lr": 0.01, "linearize": True}  # the manifest pairs each run with its twin


@pytest.mark.parametrize("args, fragment", [
    (["run", "--linearize", "--engine", "fused"], "the fused engine does not cover the linearised twin"),
    (["sweep", "--linearize", "no,maybe", "--out", "OUT"], "--linearize takes comma-separated yes/no values"),
    (["ensemble", "--linearize", "--batch", "--seeds", "0-1", "--out-dir", "OUT"],
     "the batched step does not cover the linearised twin"),
])
def test_twin_refusals_are_one_line(tmp_path, args, fragment):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    result = CliRunner().invoke(app, args + ["--epochs", "3", "--n-train", "64"]
                                + (["--out", str(tmp_path / "r.h5")] if args[0] == "run" else []))
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_sweep_and_ensemble_write_networks_and_twins(tmp_path):
    runner = CliRunner()
    tiny = ["--epochs", "20", "--n-train", "32", "--width", "4"]
    swept = runner.invoke(app, ["sweep", "--presets", "sgd", "--seeds", "0", "--linearize", "no,yes", *tiny,
                                "--workers", "1", "--out", str(tmp_path / "sweep")])
    assert swept.exit_code == 0, swept.output
    files = {"sgd-s0.h5": False, "sgd-s0-twin.h5": True}
    for name, twin in files.items():
        with open_run(tmp_path / "sweep" / name) as run:
            assert run.status == "complete" and run.config["linearize"] is twin and (run.linearized is not None) is twin
    with open_run(tmp_path / "sweep" / "sgd-s0.h5") as net, open_run(tmp_path / "sweep" / "sgd-s0-twin.h5") as twin:
        assert np.array_equal(net.params_at(0), twin.params_at(0)) and net.loss[0] == twin.loss[0]
    ensemble = runner.invoke(app, ["ensemble", "--preset", "sgd", "--seeds", "0-1", "--linearize", "--epochs", "20",
                                   "--n-train", "32", "--out-dir", str(tmp_path / "ens")])
    assert ensemble.exit_code == 0, ensemble.output
    assert sorted(p.name for p in (tmp_path / "ens").glob("*.h5")) == ["sgd-s0-twin.h5", "sgd-s1-twin.h5"]
    with open_run(tmp_path / "ens" / "sgd-s1-twin.h5") as run:
        assert run.linearized is not None and run.status == "complete"
