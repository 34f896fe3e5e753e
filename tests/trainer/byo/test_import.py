"""`train import` end to end: a checkpoint folder written here by a plain PyTorch loop, imported, then analyzed."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch
from byo_models import TinyNet, save_points, train_and_save
from helpers import REPO, TESTS
from typer.testing import CliRunner

import analyzer
from analyzer.cli import app as analyze_app
from trainer.runfile.records import detect_freqs
from trainer.cli import app as train_app
from trainer.byo.importer import import_run

runner = CliRunner()
STEPS = 300


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """The folder (mixed .pt and .safetensors) and its import with the CSV losses merged."""
    root = tmp_path_factory.mktemp("byo")
    made = train_and_save(root / "ckpts", steps=STEPS)
    out = root / "imported.h5"
    result = runner.invoke(train_app, ["import", str(made["folder"]), "--model", "byo_models:TinyNet",
                                       "--model-kwargs", '{"width": 6}', "--data", str(made["data"]),
                                       "--losses", str(made["losses"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return made, out, result.output


def oracle(state: dict, x: np.ndarray, y: np.ndarray, dtype=torch.float32):
    """Loss, gradient norm and predictions of a TinyNet loaded with `state`, by plain autograd."""
    net = TinyNet(width=6).to(dtype)
    net.load_state_dict(state)
    xt, yt = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
    out = net(xt)
    loss = torch.mean((out - yt) ** 2)
    loss.backward()
    grad_norm = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in net.parameters()]))
    return float(loss), float(grad_norm), out.detach().numpy()


def test_import_stacks_parameters_in_step_order_and_merges_the_csv(folder_run):
    made, out, output = folder_run
    steps = save_points(STEPS)
    assert "checkpoints (steps 0 to 300)" in output
    with analyzer.open_run(out) as run:
        assert run.status == "complete" and run.config["source"] == "import"
        np.testing.assert_array_equal(run.ckpt_steps, steps)
        np.testing.assert_array_equal(run.pred_steps, steps)
        names = [n for n, _ in TinyNet(width=6).named_parameters()]
        for step in steps:
            expected = torch.cat([made["states"][step][n].reshape(-1) for n in names]).numpy()
            np.testing.assert_array_equal(run.params_at(step), expected)
        # the CSV has steps 0..299 (loss before each update); checkpoint 300 adds the last row
        np.testing.assert_array_equal(run.steps, np.arange(STEPS + 1))
        csv = np.loadtxt(made["losses"], delimiter=",", skiprows=1)
        np.testing.assert_array_equal(run.loss[:STEPS], csv[:, 1])
        at_ckpt = np.isin(run.steps, steps)
        assert np.all(np.isfinite(run.grad_norm[at_ckpt])) and np.all(np.isnan(run.grad_norm[~at_ckpt]))
        assert np.all(np.isnan(run.lr))
        assert run.model_spec["kind"] == "import" and run.model_spec["constructor"] == "byo_models:TinyNet"
        assert run.target["freqs_hz"] == [1.0, 4.0] and run.target["freqs_source"] == "detected"


def test_import_recomputes_loss_gradient_norm_and_predictions(tmp_path, folder_run):
    """Without a CSV every /log row is recomputed at a checkpoint; checked against plain autograd."""
    made, _, _ = folder_run
    out = tmp_path / "recomputed.h5"
    import_run(made["folder"], "byo_models:TinyNet", made["data"], out, model_kwargs={"width": 6})
    with analyzer.open_run(out) as run:
        np.testing.assert_array_equal(run.steps, save_points(STEPS))
        for row, step in enumerate(run.steps):
            loss, grad_norm, pred = oracle(made["states"][int(step)], made["x"], made["y"])
            assert run.loss[row] == pytest.approx(loss, rel=1e-6)
            assert run.grad_norm[row] == pytest.approx(grad_norm, rel=1e-5)
            np.testing.assert_allclose(run.pred[row], pred, rtol=0, atol=1e-6)


def test_every_analysis_runs_on_the_imported_run(tmp_path, folder_run):
    _, out, _ = folder_run
    cache = ["--cache", str(tmp_path / "cache.h5")]
    for command in (["plateaus"], ["spectrum"], ["hessian", "--every", "100"]):
        result = runner.invoke(analyze_app, [*command, str(out), "--json", *cache])
        assert result.exit_code == 0, result.output
    spectrum = json.loads(runner.invoke(analyze_app, ["spectrum", str(out), "--json", *cache]).stdout)
    assert "learning" in json.dumps(spectrum)
    report = runner.invoke(analyze_app, ["report", str(out), "-o", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    text = (tmp_path / "report" / "REPORT.md").read_text()
    assert "byo_models:TinyNet(**{\"width\": 6})" in text and "1 Hz, 4 Hz (detected)" in text


def test_hessian_of_the_rebuilt_model_matches_a_dense_oracle(folder_run):
    """The analyzer rebuilds TinyNet from the recorded constructor; its Hessian equals numpy's eigh of
    the dense autograd Hessian of a TinyNet loaded from the checkpoint file's state dict, in float64."""
    made, out, _ = folder_run
    step = 100
    result = analyzer.analyze(out, "hessian", use_cache=False, at="steps", steps=(step,), method="dense", k=3)
    net = TinyNet(width=6).double()
    net.load_state_dict({k: v.double() for k, v in made["states"][step].items()})
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    # the run stores the data as trained (float32, like the parameters); the loss is taken on those values
    x, y = (torch.tensor(made[k].astype(np.float32).astype(np.float64)) for k in ("x", "y"))

    def loss(flat):
        parts = torch.split(flat, [s.numel() for s in shapes])
        params = {n: p.view(s) for n, p, s in zip(names, parts, shapes)}
        return torch.mean((torch.func.functional_call(net, params, (x,)) - y) ** 2)

    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    eigenvalues = np.linalg.eigh(torch.autograd.functional.hessian(loss, flat).numpy())[0]
    row = result.table.iloc[0]
    scale = np.abs(eigenvalues).max()
    assert row["lambda_max"] == pytest.approx(eigenvalues[-1], abs=1e-9 * scale)
    assert row["lambda_min"] == pytest.approx(eigenvalues[0], abs=1e-9 * scale)


def test_preset_model_float64_nested_state_dicts_step_regex_and_an_eval_grid(tmp_path):
    """--model preset:baseline with spec overrides, float64 checkpoints saved as {"model": sd, "optimizer": ...},
    steps from --step-regex, and a separate uniform eval grid with --freqs."""
    from trainer.config import PRESETS
    from trainer.models import build_model, flatten, load_flat

    spec = PRESETS["baseline"].model
    folder = tmp_path / "ck"
    folder.mkdir()
    net = build_model(dataclasses.replace(spec, width=5), seed=3, dtype=torch.float64)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    flats = {}
    for step in (0, 5, 10):
        flats[step] = flatten(net).numpy()
        torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 1},
                   folder / f"run7_step{step}_v2.pth")
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(0.9)
    x = np.linspace(0, 1, 40, endpoint=False)[:, None]
    grid = np.linspace(0, 2, 50, endpoint=False)[:, None]
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.sin(2 * np.pi * x), x_eval=grid,
             y_eval=np.sin(2 * np.pi * grid))
    out = tmp_path / "p.h5"
    result = runner.invoke(train_app, ["import", str(folder), "--model", "preset:baseline", "--model-kwargs",
                                       '{"width": 5}', "--data", str(tmp_path / "d.npz"), "-o", str(out),
                                       "--step-regex", r"step(\d+)_", "--freqs", "1"])
    assert result.exit_code == 0, result.output
    with analyzer.open_run(out) as run:
        np.testing.assert_array_equal(run.ckpt_steps, [0, 5, 10])
        assert run.dtype == "float64" and run.model_spec["kind"] == "mlp" and run.model_spec["width"] == 5
        assert run.target["freqs_hz"] == [1.0] and run.target["freqs_source"] == "given"
        for step in (0, 5, 10):
            np.testing.assert_array_equal(run.params_at(step), flats[step])
        model, _ = run.build_model()
        load_flat(model, torch.from_numpy(flats[10]))
        with torch.no_grad():
            np.testing.assert_allclose(run.pred[-1], model(torch.tensor(grid)).numpy(), rtol=1e-12)


def test_detect_freqs_finds_the_sines_of_a_known_target():
    """Oracle: a sum of sines on DFT bins; detection returns exactly their frequencies (Hz)."""
    x = np.arange(256)[:, None] / 256
    y = 0.3 + np.sin(2 * np.pi * 3 * x) + 0.5 * np.cos(2 * np.pi * 7 * x) + 0.2 * np.sin(2 * np.pi * 20 * x + 1)
    assert detect_freqs(x, y) == [3.0, 7.0, 20.0]
    assert detect_freqs(x.astype(np.float32), y) == [3.0, 7.0, 20.0]
    assert detect_freqs(2 * x, y) == [1.5, 3.5, 10.0]  # a grid of length 2: bin k is k/2 Hz
    assert detect_freqs(np.sort(np.random.default_rng(0).random((256, 1)), axis=0), y) == []  # not uniform
    assert detect_freqs(x, np.full_like(x, 2.0)) == []  # no peak


def test_spectrum_refuses_an_imported_grid_that_is_not_uniform_or_without_frequencies(tmp_path, folder_run):
    """The DFT needs a uniform 1-D grid and frequencies to track: one-line refusals (exit 2), no nonsense."""
    made, _, _ = folder_run
    cases = {"ragged": np.sort(np.random.default_rng(1).random((64, 1)), axis=0),
             "flat": (np.arange(64) / 64)[:, None]}
    for name, x in cases.items():
        y = np.sin(2 * np.pi * x) if name == "ragged" else np.full_like(x, 0.5)  # flat: no DFT peak to detect
        np.savez(tmp_path / f"{name}.npz", x_train=x, y_train=y)
        out = tmp_path / f"{name}.h5"
        import_run(made["folder"], "byo_models:TinyNet", tmp_path / f"{name}.npz", out, model_kwargs={"width": 6},
                   freqs_hz=[1.0] if name == "ragged" else None)
        result = runner.invoke(analyze_app, ["spectrum", str(out), "--no-cache"])
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code == 2 and len(errors) == 1, result.output
        assert ("not uniform" if name == "ragged" else "no target frequencies") in errors[0]


def test_import_and_hessian_in_fresh_processes(tmp_path, folder_run):
    """The constructor is imported by module name in another process: found with the module on the path,
    a one-line refusal (exit 2) without it."""
    made, _, _ = folder_run
    out = tmp_path / "sub.h5"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])}
    done = subprocess.run([sys.executable, "-m", "trainer.cli", "import", str(made["folder"]), "--model",
                           "byo_models:make_tiny", "--model-kwargs", '{"width": 6}', "--data", str(made["data"]),
                           "-o", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    hessian = [sys.executable, "-m", "analyzer.cli", "hessian", str(out), "--steps", "0",
               "--no-cache", "--json"]
    done = subprocess.run(hessian, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)
    bare = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(hessian, env=bare, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "cannot import 'byo_models'" in done.stderr, done.stderr


def test_the_import_file_layout(folder_run):
    """Schema 2 (and later): source attribute, model spec with constructor, /log has one row per logged step."""
    _, out, _ = folder_run
    with h5py.File(out, "r") as f:
        assert f.attrs["schema_version"] == 3 and f.attrs["source"] == "import"
        spec = json.loads(f["model"].attrs["spec"])
        assert spec["constructor_kwargs"] == {"width": 6}
        assert f["log/step"].shape == (STEPS + 1,) and f["ckpt/params"].shape[0] == len(save_points(STEPS))


@pytest.mark.parametrize("point", ["commit.marker@1", "close.replaced"])
def test_a_killed_import_leaves_nothing_at_the_output(tmp_path, folder_run, point):
    """kill -9 mid-import (after a commit of the staging file; after it is complete but before the rename):
    no RUN, only the stale RUN.importing, which the next import replaces."""
    made, _, _ = folder_run
    out = tmp_path / "killed.h5"
    command = [sys.executable, "-m", "trainer.cli", "import", str(made["folder"]), "--model", "byo_models:TinyNet",
               "--model-kwargs", '{"width": 6}', "--data", str(made["data"]), "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "TRAINER_CRASH_AT": point}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert not out.exists() and (tmp_path / "killed.h5.importing").exists()
    env.pop("TRAINER_CRASH_AT")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.h5"]
    with analyzer.open_run(out) as run:
        assert run.status == "complete" and len(run.ckpt_steps) == len(save_points(STEPS))


def test_a_model_class_that_changed_since_the_import_is_refused(tmp_path, folder_run):
    """The analyzer checks the rebuilt model against the stored layout (here: other constructor kwargs)."""
    _, out, _ = folder_run
    changed = tmp_path / "changed.h5"
    changed.write_bytes(out.read_bytes())
    with h5py.File(changed, "r+") as f:
        spec = json.loads(f["model"].attrs["spec"])
        f["model"].attrs["spec"] = json.dumps({**spec, "constructor_kwargs": {"width": 7}})
    result = runner.invoke(analyze_app, ["hessian", str(changed), "--steps", "0", "--no-cache"])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert "differ from the run file's layout" in errors[0] and "embed.weight[7, 6]" in errors[0]


def test_commands_that_need_a_trainer_config_refuse_an_imported_run(folder_run):
    _, out, _ = folder_run
    result = runner.invoke(analyze_app, ["score", str(out), "--no-cache"])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "written by train import" in errors[0], result.output
    result = runner.invoke(train_app, ["resume", str(out)])
    assert result.exit_code == 2 and "already complete" in result.output
    result = runner.invoke(train_app, ["run", "--model", "import", "--out", str(out.with_name("x.h5"))])
    assert result.exit_code == 2 and 'model kind "import" is for runs imported or logged' in result.output
