"""`train import` on the checkpoint layouts people have, each end to end (tiny checkpoints written here, imported,
then `analyze info` and `analyze spectrum`): DataParallel / torch.compile prefixes, PyTorch Lightning `.ckpt`
files, `.bin` files, and the Hugging Face Trainer's checkpoint-N/ folders. Nothing in a checkpoint is run."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from byo_models import TinyNet, target
from safetensors.torch import save_file
from torch import nn
from typer.testing import CliRunner

import analyzer
from analyzer.cli import app as analyze_app
from trainer.cli import app as train_app

runner = CliRunner()
STEPS = (0, 10, 20, 30)
N_POINTS = 64


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """TinyNet's state dicts at STEPS of a full-batch Adam run, and its data file."""
    root = tmp_path_factory.mktemp("layouts")
    x = (np.arange(N_POINTS) / N_POINTS)[:, None]
    y = target(x)
    np.savez(root / "data.npz", x_train=x, y_train=y)
    torch.manual_seed(0)
    model = TinyNet(width=6)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    states = {}
    for step in range(STEPS[-1] + 1):
        if step in STEPS:
            states[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        loss = torch.mean((model(xt) - yt) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"root": root, "data": root / "data.npz", "states": states}


def model_at(state: dict) -> TinyNet:
    model = TinyNet(width=6)
    model.load_state_dict(state)
    return model


def import_folder(trained, folder, out, *extra):
    return runner.invoke(train_app, ["import", str(folder), "--model", "byo_models:TinyNet", "--model-kwargs",
                                     '{"width": 6}', "--data", str(trained["data"]), "-o", str(out), *extra])


def check_run(trained, out, steps=STEPS) -> dict:
    """The imported run holds each checkpoint's parameters, and `analyze info` / `analyze spectrum` read it."""
    names = [n for n, _ in TinyNet(width=6).named_parameters()]
    with analyzer.open_run(out) as run:
        np.testing.assert_array_equal(run.ckpt_steps, steps)
        for step in steps:
            state = trained["states"][step]
            np.testing.assert_array_equal(run.params_at(step), torch.cat([state[n].reshape(-1) for n in names]))
        config = run.config
    info = runner.invoke(analyze_app, ["info", str(out), "--json"])
    assert info.exit_code == 0, info.output
    spectrum = runner.invoke(analyze_app, ["spectrum", str(out), "--no-cache", "--json"])
    assert spectrum.exit_code == 0, spectrum.output
    assert json.loads(spectrum.stdout)["target_freqs_hz"] == [1.0, 4.0]
    return config["import"]


def notes_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("import: ")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("wrap, words", [
    (nn.DataParallel, "'module.' stripped (DataParallel / DistributedDataParallel)"),
    (torch.compile, "'_orig_mod.' stripped (torch.compile)"),
    (lambda m: torch.compile(nn.DataParallel(m)), "'_orig_mod.module.' stripped (torch.compile, DataParallel"),
])
def test_wrapper_prefixes_are_stripped_when_that_makes_the_keys_fit(trained, tmp_path, wrap, words):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    for step in STEPS:
        torch.save(wrap(model_at(trained["states"][step])).state_dict(), folder / f"step_{step}.pt")
    out = tmp_path / "run.h5"
    result = import_folder(trained, folder, out)
    assert result.exit_code == 0, result.output
    assert words in notes_line(result.output)
    assert any(words in note for note in check_run(trained, out)["notes"])


def test_an_unknown_prefix_is_refused_with_the_key_prefix_that_fits(trained, tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    for step in STEPS:
        torch.save({f"net.{k}": v for k, v in trained["states"][step].items()}, folder / f"step_{step}.pt")
    result = import_folder(trained, folder, tmp_path / "run.h5")
    assert result.exit_code == 2 and "does not fit the model" in result.output
    assert "pass --key-prefix net." in result.output and result.output.count("\n") == 1
    result = import_folder(trained, folder, tmp_path / "run.h5", "--key-prefix", "net.")
    assert result.exit_code == 0, result.output
    check_run(trained, tmp_path / "run.h5")


def lightning_checkpoint(state: dict, step: int, hparams) -> dict:
    """What a Lightning Trainer saves for a LightningModule holding the network as `self.model` (and a loss with a
    buffer beside it): the weights under 'state_dict' with the 'model.' prefix, and the trainer's own state."""
    weights = {f"model.{k}": v for k, v in state.items()} | {"criterion.pos_weight": torch.ones(1)}
    return {"epoch": step // 10, "global_step": step, "pytorch-lightning_version": "2.5.0", "state_dict": weights,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": step // 10}}}},
            "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_path": "", "best_model_score": None}},
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.02, "params": [0, 1]}]}],
            "lr_schedulers": [], "hparams_name": "kwargs", "hyper_parameters": hparams}


class _Trap:
    """Unpickling it calls open(path, "w"): running code from the checkpoint would create the file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _ShellTrap(_Trap):
    """Unpickling it calls os.system: a module torch's weights-only reader always blocks."""

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def test_lightning_ckpt_files(trained, tmp_path):
    """epoch=E-step=S.ckpt (a versioned -v1 too), a name without a step (its global_step), last.ckpt repeating the
    newest: read with --key-prefix model.; hyper-parameters weights_only refuses (an argparse.Namespace, and an
    object whose unpickling would run open()) are left unloaded, and nothing runs."""
    folder = tmp_path / "lightning"
    folder.mkdir()
    marker = tmp_path / "pwned"
    hparams = argparse.Namespace(lr=0.02, width=6, trap=_Trap(str(marker)))
    names = {0: "epoch=0-step=0.ckpt", 10: "epoch=1-step=10-v1.ckpt", 20: "epoch=2-step=20.ckpt", 30: "final.ckpt"}
    for step, name in names.items():
        torch.save(lightning_checkpoint(trained["states"][step], step, hparams), folder / name)
    torch.save(lightning_checkpoint(trained["states"][30], 30, hparams), folder / "last.ckpt")
    out = tmp_path / "run.h5"
    result = import_folder(trained, folder, out)
    assert result.exit_code == 2 and "pass --key-prefix model." in result.output  # Lightning's prefix is named
    result = import_folder(trained, folder, out, "--key-prefix", "model.")
    assert result.exit_code == 0, result.output
    line = notes_line(result.output)
    for fragment in ("5 checkpoint files (.ckpt), steps of final.ckpt, last.ckpt from their global_step",
                     "last.ckpt left out (another file holds its step 30)",
                     "PyTorch Lightning checkpoints: weights under 'state_dict'", "argparse.Namespace", "io.open",
                     "keys: --key-prefix 'model.' stripped", "left out 1 keys outside 'model.' (criterion.pos_weight)"):
        assert fragment in line, line
    assert not marker.exists()
    assert check_run(trained, out)["notes"] == line.removeprefix("import: ").split("; ")


def test_a_blocked_module_beside_the_weights_is_refused_and_runs_nothing(trained, tmp_path):
    folder = tmp_path / "lightning"
    folder.mkdir()
    marker = tmp_path / "pwned"
    torch.save(lightning_checkpoint(trained["states"][0], 0, {"trap": _ShellTrap(str(marker))}),
               folder / "epoch=0-step=0.ckpt")
    result = import_folder(trained, folder, tmp_path / "run.h5", "--key-prefix", "model.")
    assert result.exit_code == 2 and "refused by torch.load(weights_only=True)" in result.output
    assert not marker.exists() and not (tmp_path / "run.h5").exists()


def test_a_trap_in_place_of_the_weights_is_refused_and_runs_nothing(trained, tmp_path):
    folder = tmp_path / "lightning"
    folder.mkdir()
    marker = tmp_path / "pwned"
    checkpoint = lightning_checkpoint(trained["states"][0], 0, {})
    checkpoint["state_dict"]["model.head.bias"] = _Trap(str(marker))
    torch.save(checkpoint, folder / "epoch=0-step=0.ckpt")
    result = import_folder(trained, folder, tmp_path / "run.h5", "--key-prefix", "model.")
    assert result.exit_code == 2 and "refused by torch.load(weights_only=True)" in result.output
    assert not marker.exists() and not (tmp_path / "run.h5").exists()


def test_bin_files(trained, tmp_path):
    folder = tmp_path / "bins"
    folder.mkdir()
    for step in STEPS:
        torch.save(trained["states"][step], folder / f"pytorch_model_{step}.bin")
    result = import_folder(trained, folder, tmp_path / "run.h5")
    assert result.exit_code == 0, result.output
    assert "4 checkpoint files (.bin)" in notes_line(result.output)
    check_run(trained, tmp_path / "run.h5")


def test_hugging_face_trainer_folders(trained, tmp_path):
    """checkpoint-N/ with model.safetensors (or pytorch_model.bin), beside the Trainer's other files (a
    training_args.bin pickle weights_only refuses, optimizer.pt, trainer_state.json) and the final model at the top."""
    folder = tmp_path / "output"
    folder.mkdir()
    for i, step in enumerate(STEPS):
        sub = folder / f"checkpoint-{step}"
        sub.mkdir()
        state = {k: v.contiguous() for k, v in trained["states"][step].items()}
        if i % 2:
            torch.save(state, sub / "pytorch_model.bin")
        else:
            save_file(state, str(sub / "model.safetensors"))
        torch.save(argparse.Namespace(output_dir=str(folder)), sub / "training_args.bin")
        torch.save({"state": {}, "param_groups": []}, sub / "optimizer.pt")
        (sub / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    save_file(trained["states"][STEPS[-1]], str(folder / "model.safetensors"))
    (folder / "runs").mkdir()  # the logging folder: no checkpoint
    out = tmp_path / "run.h5"
    result = import_folder(trained, folder, out)
    assert result.exit_code == 0, result.output
    line = notes_line(result.output)
    assert "one checkpoint per sub-folder (Hugging Face Trainer layout: checkpoint-0/model.safetensors)" in line
    assert "files at the top left out (model.safetensors)" in line
    check_run(trained, out)


def test_sharded_trainer_checkpoints_are_refused_plainly(trained, tmp_path):
    folder = tmp_path / "output"
    (folder / "checkpoint-10").mkdir(parents=True)
    (folder / "checkpoint-10" / "model.safetensors.index.json").write_text("{}")
    result = import_folder(trained, folder, tmp_path / "run.h5")
    assert result.exit_code == 2 and "sharded" in result.output and result.output.count("\n") == 1


def test_a_damaged_sub_folder_checkpoint_is_named_with_its_folder(trained, tmp_path):
    folder = tmp_path / "output"
    for step in STEPS[:3]:
        (folder / f"checkpoint-{step}").mkdir(parents=True)
        save_file(trained["states"][step], str(folder / f"checkpoint-{step}" / "model.safetensors"))
    (folder / "checkpoint-20" / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    result = import_folder(trained, folder, tmp_path / "run.h5")
    assert result.exit_code == 2 and "checkpoint-20/model.safetensors: not a readable safetensors file" in result.output
