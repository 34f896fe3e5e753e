"""`RunWriter` as the logger of a hand-written PyTorch loop: the run file, its conventions, and the analyses on it."""

from __future__ import annotations

import dataclasses
import json
import math

import h5py
import numpy as np
import pytest
import torch
from byo_models import TinyNet, target
from typer.testing import CliRunner

import analyzer
from analyzer.cli import app as analyze_app
from trainer import RunWriter
from trainer.cli import app as train_app
from trainer.optim import pack_optimizer_state
from trainer.errors import ConfigError
from trainer.models import flatten

runner = CliRunner()
STEPS = 300


def hand_written_loop(path, steps: int = STEPS, **writer_options):
    """The README's example: a plain Adam loop instrumented with five RunWriter lines.

    Returns what the loop saw (losses, gradient norms, parameters, predictions) for oracle checks.
    """
    torch.manual_seed(0)
    x = torch.arange(64, dtype=torch.float32)[:, None] / 64
    y = torch.from_numpy(target(x.numpy())).float()
    model = TinyNet(width=6)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    seen = {"loss": [], "grad_norm": [], "params": {}, "pred": {}}
    with RunWriter.for_model(path, model, x, y, constructor_kwargs={"width": 6}, optimizer=optimizer,
                             config={"lr": 0.02}, **writer_options) as run:
        for step in range(steps):
            if step < 20 or step % 5 == 0:
                run.checkpoint(step, model, optimizer)
                run.log_predictions(step)
                seen["params"][step] = flatten(model).numpy().copy()
                seen["pred"][step] = model(x).detach().numpy()
            loss = torch.mean((model(x) - y) ** 2)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
            run.log_step(step, loss, grad_norm, lr=0.02)
            seen["loss"].append(loss.item())
            seen["grad_norm"].append(grad_norm.item())
            optimizer.step()
        run.checkpoint(steps, model)
        run.log_predictions(steps)
    seen["final_state"] = pack_optimizer_state(optimizer)
    return seen


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    path = tmp_path_factory.mktemp("logged") / "mine.h5"
    return path, hand_written_loop(path)


def test_the_logged_run_holds_what_the_loop_saw(logged):
    path, seen = logged
    with analyzer.open_run(path) as run:
        assert run.status == "complete" and run.config["source"] == "logger" and run.config["user"] == {"lr": 0.02}
        np.testing.assert_array_equal(run.steps, np.arange(STEPS))
        np.testing.assert_array_equal(run.loss, seen["loss"])
        np.testing.assert_array_equal(run.grad_norm, seen["grad_norm"])
        np.testing.assert_array_equal(run.lr, np.full(STEPS, 0.02))
        stored = sorted(seen["params"]) + [STEPS]
        np.testing.assert_array_equal(run.ckpt_steps, stored)
        for step, params in seen["params"].items():
            np.testing.assert_array_equal(run.params_at(step), params)
            np.testing.assert_array_equal(run.pred[list(run.pred_steps).index(step)], seen["pred"][step])
        assert run.model_spec == {**run.model_spec, "kind": "import", "constructor": "byo_models:TinyNet",
                                  "constructor_kwargs": {"width": 6}}
        assert run.target["freqs_hz"] == [1.0, 4.0]


def test_every_analysis_runs_on_the_logged_run(tmp_path, logged):
    path, _ = logged
    for command in (["plateaus"], ["spectrum"], ["hessian", "--steps", "0,100,300"]):
        result = runner.invoke(analyze_app, [*command, str(path), "--no-cache", "--json"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(analyze_app, ["report", str(path), "-o", str(tmp_path / "report"), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "RunWriter.for_model in the user's training loop" in (tmp_path / "report" / "REPORT.md").read_text()
    result = runner.invoke(analyze_app, ["study", str(path), "--no-hessian", "--workers", "1", "--json", "--no-cache",
                                         "--permutations", "99", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["groups"] == ["byo_models:TinyNet"]  # grouped by the user's constructor


def test_checkpoints_carry_the_adam_state_for_resuming_your_own_loop(tmp_path):
    """RunWriter.resume hands back the state of the last committed checkpoint, as the trainer packs it."""
    path = tmp_path / "stopped.h5"
    model = TinyNet(width=6)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    x = torch.linspace(0, 1, 8)[:, None]
    writer = RunWriter.for_model(path, model, x, torch.sin(x), constructor_kwargs={"width": 6}, optimizer=optimizer,
                                 commit_every_s=0.0)
    for step in range(4):
        writer.checkpoint(step, model, optimizer)
        loss = torch.mean((model(x) - torch.sin(x)) ** 2)
        writer.log_step(step, loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    packed = pack_optimizer_state(optimizer)
    writer.checkpoint(4, model, optimizer)
    writer.close("interrupted")
    resumed, meta, point = RunWriter.resume(path)
    assert point.step == 4 and meta.source == "logger"
    np.testing.assert_array_equal(point.state[: packed.size], packed)
    np.testing.assert_array_equal(point.params, flatten(model).numpy())
    resumed.close("complete")


def test_optimizer_state_without_room_is_a_clear_error(tmp_path):
    model = TinyNet(width=6)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.zeros(2, 1)).sum().backward()
    optimizer.step()
    with pytest.raises(ValueError, match="pass optimizer= to RunWriter.for_model"):
        with RunWriter.for_model(tmp_path / "r.h5", model, np.zeros((4, 1)), np.zeros((4, 1)),
                                 constructor_kwargs={"width": 6}, commit_every_s=0.0) as run:
            run.checkpoint(0, model, optimizer)
    with h5py.File(tmp_path / "r.h5") as f:
        assert f.attrs["status"] == "interrupted"


def test_context_manager_statuses(tmp_path):
    model = TinyNet(width=6)

    def open_run(name):
        return RunWriter.for_model(tmp_path / name, model, np.zeros((4, 1)), np.zeros((4, 1)),
                                   constructor_kwargs={"width": 6})

    with pytest.raises(RuntimeError, match="boom"):
        with open_run("interrupted.h5") as run:
            run.log_step(0, 1.0)
            raise RuntimeError("boom")
    with open_run("diverged.h5") as run:
        run.log_step(0, 1.0)
        run.log_step(1, math.inf)
    with open_run("complete.h5") as run:
        run.log_step(0, 1.0)
    for name, status in (("interrupted", "interrupted"), ("diverged", "diverged"), ("complete", "complete")):
        with analyzer.open_run(tmp_path / f"{name}.h5") as opened:
            assert opened.status == status and opened.n_steps >= 1


@pytest.mark.parametrize("calls, kind", [
    ([("log_step", 3), ("log_step", 3)], "log"),
    ([("log_step", 3), ("log_step", 2)], "log"),
    ([("log_step", -1)], "log"),
    ([("checkpoint", 10), ("checkpoint", 5)], "ckpt"),
    ([("log_predictions", 4), ("log_predictions", 4)], "pred"),
])
def test_steps_must_increase(tmp_path, calls, kind):
    model = TinyNet(width=6)
    with RunWriter.for_model(tmp_path / "r.h5", model, np.zeros((4, 1)), np.zeros((4, 1)),
                             constructor_kwargs={"width": 6}) as run:
        with pytest.raises(ValueError, match=f"{kind} step .* strictly increasing"):
            for method, step in calls:
                getattr(run, method)(step, *([1.0] if method == "log_step" else [model] if method == "checkpoint"
                                             else []))


def test_constructor_problems_are_refused_before_anything_is_written(tmp_path):
    class LocalNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x * self.w

    path = tmp_path / "r.h5"
    data = (np.zeros((4, 1)), np.zeros((4, 1)))
    with pytest.raises(ConfigError, match="defined in a script or function"):
        RunWriter.for_model(path, LocalNet(), *data)
    with pytest.raises(ConfigError, match="has other parameters than the model given"):
        RunWriter.for_model(path, TinyNet(width=6), *data)  # the default TinyNet() is 12 wide
    with pytest.raises(ConfigError, match="cannot import"):
        RunWriter.for_model(path, TinyNet(width=6), *data, constructor="not_a_module_abc:Net")
    with pytest.raises(ConfigError, match="x_train has 4 rows but y_train has 3"):
        RunWriter.for_model(path, TinyNet(width=6), np.zeros((4, 1)), np.zeros((3, 1)), constructor_kwargs={"width": 6})
    assert list(tmp_path.iterdir()) == []


def test_one_of_our_models_logged_by_spec(tmp_path):
    """constructor may be a trainer ModelSpec (or preset:NAME): the run rebuilds as kind mlp."""
    from trainer.config import PRESETS
    from trainer.models import build_model

    spec = dataclasses.replace(PRESETS["baseline"].model, width=4)
    model = build_model(spec, seed=1)
    with RunWriter.for_model(tmp_path / "ours.h5", model, np.zeros((4, 1)), np.zeros((4, 1)), constructor=spec,
                             loss_kind="user") as run:  # a placeholder loss, not the MSE
        run.checkpoint(0, model)
        run.log_step(0, 1.0)
    with analyzer.open_run(tmp_path / "ours.h5") as opened:
        rebuilt, layout = opened.build_model()
        assert opened.model_spec["kind"] == "mlp" and layout.n_params == opened.n_params == 4 + 4 + 20 + 5


def test_train_resume_refuses_a_logged_run(tmp_path):
    path = tmp_path / "r.h5"
    run = RunWriter.for_model(path, TinyNet(width=6), np.zeros((4, 1)), np.zeros((4, 1)),
                              constructor_kwargs={"width": 6})
    run.log_step(0, 1.0)
    run.close("interrupted")
    result = runner.invoke(train_app, ["resume", str(path)])
    assert result.exit_code == 2 and "written by your own training loop" in result.output
    assert "Traceback" not in result.output


def test_a_schema_1_file_is_still_read_and_resumed(tmp_path, small_run):
    """Version-1 files (no `source` attribute) are `train run` files: opened, analysed, resumed."""
    from trainer.runfile import schema as runfile
    from trainer.engines.loop import resume

    path = tmp_path / "v1.h5"
    path.write_bytes(small_run.read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 1
        del f.attrs["source"]
        f.attrs["status"] = "interrupted"
        f["commit"][:3] = [100, 101, 11]
    with runfile.open_swmr_reader(path) as f:
        assert runfile.read_meta(f).source == "train"
    with analyzer.open_run(path) as run:
        assert run.n_steps == 100
    assert resume(path).status == "complete"
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == runfile.SCHEMA_VERSION == 3 and f.attrs["source"] == "train"
