"""Runs from code we did not write (issue 24), end to end: a loop shaped like the F-Principle port (a 1-30-40-30-1
ReLU MLP, a loss with a derivative term, minibatch gradients accumulated per step, a CSV with step,loss,recon_loss,
grad_loss, a checkpoint every 10 steps, x on [-pi, pi)) imported by `train import`, then analysed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from byo_models import FPNet, fprinciple_folder
from typer.testing import CliRunner

import analyzer
from analyzer.cli import app as analyze_app
from trainer import RunWriter
from trainer.cli import app as train_app

runner = CliRunner()
MODEL = ["--model", "byo_models:FPNet"]


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    return fprinciple_folder(tmp_path_factory.mktemp("fprinciple"))


def _import(loop, out, *extra):
    return runner.invoke(train_app, ["import", str(loop["folder"]), *MODEL, "--data", str(loop["data"]),
                                     "-o", str(out), *extra])


@pytest.fixture(scope="module")
def user_run(loop, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "user.h5"
    result = _import(loop, out, "--losses", str(loop["losses"]), "--loss-kind", "user", "--optimizer", "Adam",
                     "--lr", "0.002")
    assert result.exit_code == 0, result.output
    return out


def test_a_csv_loss_that_is_not_the_mse_is_refused_naming_the_column_and_the_size(loop, tmp_path):
    out = tmp_path / "refused.h5"
    result = _import(loop, out, "--losses", str(loop["losses"]))
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]
    assert "column 'loss'" in line and "median relative difference" in line and "--loss-column recon_loss" in line
    assert len(result.output.strip().splitlines()) == 1  # one line: no traceback, no stale progress bar
    assert not out.exists() and not list(tmp_path.iterdir())


def test_saying_which_loss_it_is_is_recorded_and_a_bad_kind_is_refused(loop, tmp_path):
    said = _import(loop, tmp_path / "said.h5", "--losses", str(loop["losses"]), "--loss-kind", "mse")
    assert said.exit_code == 0, said.output  # the user says the disagreeing column is an MSE: kept, as said
    with analyzer.open_run(tmp_path / "said.h5") as run:
        assert run.config["loss"]["kind"] == "mse" and run.config["loss"]["median_rel_diff_vs_mse"] > 1
    bad = _import(loop, tmp_path / "bad.h5", "--losses", str(loop["losses"]), "--loss-kind", "huber")
    assert bad.exit_code == 2 and "loss kind must be one of mse, user" in bad.output
    missing = _import(loop, tmp_path / "missing.h5", "--losses", str(loop["losses"]), "--loss-column", "total")
    assert missing.exit_code == 2 and "no total column" in missing.output and "recon_loss" in missing.output
    assert not list(tmp_path.glob("*.h5"))[1:]  # only said.h5


def test_the_mse_column_is_accepted_and_stays_one_series(loop, tmp_path):
    out = tmp_path / "mse.h5"
    result = _import(loop, out, "--losses", str(loop["losses"]), "--loss-column", "recon_loss")
    assert result.exit_code == 0, result.output
    with analyzer.open_run(out) as run:
        assert run.config["loss"]["kind"] == "mse" and run.config["loss"]["column"] == "recon_loss"
        # the CSV's MSE at every CSV step; the final checkpoint (step 200, no CSV row) adds the recomputed MSE
        np.testing.assert_allclose(run.loss[:-1], loop["recon"][:, 2], rtol=0)
        assert run.loss[-1] == pytest.approx(run.loss[-2], rel=0.2)  # same loss on both sides: no cliff


def test_a_user_loss_is_never_spliced_with_the_recomputed_mse(loop, user_run):
    with analyzer.open_run(user_run) as run:
        np.testing.assert_array_equal(run.steps, loop["recon"][:, 0].astype(int))  # no row for checkpoint 200
        np.testing.assert_allclose(run.loss, loop["recon"][:, 1], rtol=0)
        assert np.all(np.isnan(run.grad_norm))  # the MSE's gradient norm is not the user loss's
        assert run.config["loss"] == {"kind": "user", "column": "loss",
                                      "median_rel_diff_vs_mse": run.config["loss"]["median_rel_diff_vs_mse"]}
    plateaus = runner.invoke(analyze_app, ["plateaus", str(user_run), "--no-cache"])
    assert plateaus.exit_code == 0 and "user-defined: loss" in plateaus.output.replace("\n", " ")


def test_info_names_the_users_model_optimizer_and_loss(user_run):
    result = runner.invoke(analyze_app, ["info", str(user_run), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["model_spec"] == {"kind": "import", "constructor": "byo_models:FPNet", "constructor_kwargs": {}}
    expected = [(n, list(p.shape)) for n, p in FPNet().named_parameters()]
    assert [(row["name"], row["shape"]) for row in info["layers"]] == expected
    assert info["n_params"] == sum(p.numel() for p in FPNet().parameters()) == 2561
    described = info["described"]
    assert described["model"] == "byo_models:FPNet(**{})" and described["optimizer"] == "Adam, lr 0.002"
    assert described["loss"] == "training loss (user-defined: loss)"
    text = json.dumps(info)
    assert '"width"' not in text and '"depth"' not in text and "relu" not in text  # no preset defaults
    table = runner.invoke(analyze_app, ["info", str(user_run)])
    assert "net.2.weight [40, 30]" in table.output and "None" not in table.output


def test_spectrum_headline_gives_the_first_reached_steps_in_the_order_the_run_learned(user_run):
    with analyzer.open_run(user_run) as run:
        result = analyzer.spectrum(run)
    learning = result.learning.sort_values("freq_hz")
    np.testing.assert_allclose(learning.freq_hz, np.array([1, 3, 5]) / (2 * np.pi), rtol=1e-5)
    reached = learning.first_below_step.to_numpy()
    headline = result.headline()
    for freq, step in zip(learning.freq_hz, reached):
        if np.isfinite(step):
            assert f"{freq:g} Hz at step {int(step)}" in headline
    finite = reached[np.isfinite(reached)]
    if len(finite) >= 2:
        ordered = bool(np.all(np.diff(finite) >= 0))
        assert ("in order, low to high" in headline) == ordered and ("not in order" in headline) != ordered
    assert "jump grid" in headline and "predictions every 10 steps" in headline


def test_angular_frequencies_are_refused_before_anything_is_written(loop, tmp_path):
    out = tmp_path / "angular.h5"
    result = _import(loop, out, "--freqs", "1,3,5")
    assert result.exit_code == 2 and "angular" in result.output and "they are 0.159" in result.output
    assert "--freqs" not in result.output  # one message for the CLI and the Python API: it names no flag
    assert not out.exists()


def test_a_module_that_cannot_be_imported_gets_a_path_hint(loop, tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text("raise SystemExit('never imported')\n")
    monkeypatch.chdir(tmp_path.parent)
    result = runner.invoke(train_app, ["import", str(loop["folder"]), "--model", "user_nets:Net", "--data",
                                       str(loop["data"]), "-o", str(tmp_path / "x.h5")])
    assert result.exit_code == 2 and f"PYTHONPATH={tmp_path}" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sparse_checkpoints_are_analysed_and_state_their_resolution(tmp_path):
    made = fprinciple_folder(tmp_path / "sparse", steps=200, every=20)
    out = tmp_path / "sparse.h5"
    assert _import(made, out).exit_code == 0
    spectrum = runner.invoke(analyze_app, ["spectrum", str(out), "--no-cache"])
    assert spectrum.exit_code == 0, spectrum.output
    text = " ".join(spectrum.output.split())
    assert "predictions every 20 steps" in text and "coarsened from 20" in text


def test_ntk_thins_its_drift_curve_by_default_and_names_the_optimizer(user_run):
    with analyzer.open_run(user_run) as run:
        thin = analyzer.analyze(run, "ntk", use_cache=False, top_k=5, drift_points=6)
        every = analyzer.analyze(run, "ntk", use_cache=False, top_k=5, drift_every=1)
    assert len(thin.drift) == 6 and len(every.drift) == 21
    assert thin.drift.step.iloc[-1] == every.drift.step.iloc[-1] == 200
    merged = every.drift.merge(thin.drift, on="step")  # the thinned curve is the exact one at its steps
    np.testing.assert_array_equal(merged.relative_change_x, merged.relative_change_y)
    assert "Adam" in thin.headline() and "unknown" not in thin.headline()
    assert all(len(frame) <= 15 for frame in every.tables().values())


def test_run_writer_records_the_optimizer_and_checks_an_unstated_loss(tmp_path):
    torch.manual_seed(0)
    x = torch.linspace(-np.pi, np.pi, 64)[:, None]
    y = torch.sin(3 * x)
    model = FPNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="loss_kind='user'"):
        with RunWriter.for_model(tmp_path / "unstated.h5", model, x, y, optimizer=optimizer) as run:
            run.checkpoint(0, model, optimizer)
            run.log_step(0, 10.0 * torch.mean((model(x) - y) ** 2) + 1.0)
    with RunWriter.for_model(tmp_path / "user.h5", model, x, y, optimizer=optimizer, loss_kind="user",
                             loss_name="recon_loss+grad_loss") as run:
        run.checkpoint(0, model, optimizer)
        run.log_predictions(0)
        run.log_step(0, 10.0)
    with analyzer.open_run(tmp_path / "user.h5") as opened:
        assert opened.config["optimizer"] == "Adam" and opened.config["lr"] == 1e-3
        assert opened.config["loss"]["kind"] == "user"
    info = json.loads(runner.invoke(analyze_app, ["info", str(tmp_path / "user.h5"), "--json"]).output)
    assert info["described"]["loss"] == "training loss (user-defined: recon_loss+grad_loss)"
    assert info["described"]["optimizer"] == "Adam, lr 0.001"


def test_files_written_before_the_loss_record_read_as_the_mse_with_the_users_model():
    """Backward compatibility: no config["loss"] is the MSE; an old import spec's unused MLP fields are not shown."""
    from types import SimpleNamespace

    from analyzer.io.describe import describe, shown_spec

    old_spec = {"kind": "import", "constructor": "nets:Net", "constructor_kwargs": {"h": 3}, "depth": 2, "width": 50,
                "activation": "relu", "features": 20, "init_scale": 0.001}
    old = SimpleNamespace(config={"source": "import", "model": old_spec}, model_spec=old_spec,
                          layout={"names": ["a.weight"], "shapes": [[3, 1]]}, n_params=3)
    described = describe(old)
    assert described["loss"] == "training loss (MSE)" and described["model"] == 'nets:Net(**{"h": 3})'
    assert described["optimizer"].startswith("not recorded (train import --optimizer")
    assert shown_spec(old_spec) == {"kind": "import", "constructor": "nets:Net", "constructor_kwargs": {"h": 3}}
    ours = SimpleNamespace(config={"source": "train", "preset": "baseline", "optimizer": "adam", "lr": 0.01},
                           model_spec={"kind": "mlp", "depth": 2, "width": 50, "activation": "relu"},
                           layout={"names": [], "shapes": []}, n_params=2701)
    assert describe(ours)["model"] == "2 hidden x 50 relu" and describe(ours)["optimizer"] == "adam, lr 0.01"
