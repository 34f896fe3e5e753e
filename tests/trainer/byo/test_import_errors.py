"""`train import` bad input: one line on stderr, exit 2, nothing written (and nothing the user had touched)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from byo_models import TinyNet, train_and_save
from safetensors.torch import save_file
from typer.testing import CliRunner

from trainer.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A good folder (steps 0..40) to copy and damage."""
    return train_and_save(tmp_path_factory.mktemp("good") / "ckpts", steps=40)


@pytest.fixture
def work(tmp_path, source):
    """A fresh copy of the good folder, data and losses, and the output path."""
    folder = tmp_path / "ckpts"
    shutil.copytree(source["folder"], folder)
    shutil.copy(source["data"], tmp_path / "data.npz")
    shutil.copy(source["losses"], tmp_path / "losses.csv")
    return {"folder": folder, "data": tmp_path / "data.npz", "losses": tmp_path / "losses.csv",
            "out": tmp_path / "out" / "run.h5", "root": tmp_path}


def run_import(work, *extra: str, model: str = "byo_models:TinyNet", kwargs: str = '{"width": 6}'):
    return runner.invoke(app, ["import", str(work["folder"]), "--model", model, "--model-kwargs", kwargs,
                               "--data", str(work["data"]), "-o", str(work["out"]), *extra])


def assert_refused(result, work, *fragments: str) -> None:
    """Exit 2, exactly one `error:` line holding every fragment, no traceback, nothing at or beside the output."""
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.output
    out = work["out"]
    assert not out.parent.exists() or sorted(p.name for p in out.parent.iterdir()) == [], list(out.parent.iterdir())


def test_the_good_folder_imports(work):
    result = run_import(work, "--losses", str(work["losses"]))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in work["out"].parent.iterdir()) == ["run.h5"]  # no staging file, no lock left


def test_empty_folder(work):
    shutil.rmtree(work["folder"])
    work["folder"].mkdir()
    (work["folder"] / "notes.txt").write_text("no checkpoints here")
    assert_refused(run_import(work), work, "holds no checkpoints")


def test_folder_that_does_not_exist(work):
    shutil.rmtree(work["folder"])
    assert_refused(run_import(work), work, "is not a folder")


def test_inconsistent_architectures_name_the_file(work):
    """A wider net's state dict among the others (its name sorts last, its step is in the middle)."""
    (work["folder"] / "ckpt_000020.pt").unlink()
    torch.save(TinyNet(width=8).state_dict(), work["folder"] / "zz_step20.pt")
    assert_refused(run_import(work), work, "zz_step20.pt", "architecture differs from the earlier checkpoints",
                   "embed.weight has shape (8, 6)")


@pytest.mark.parametrize("damage, fragment", [
    ("missing", "missing keys head.bias"),
    ("unexpected", "unexpected keys extra.weight"),
    ("shape", "scale has shape (2,), the model's is ()"),
])
def test_state_dict_that_does_not_fit_the_model(work, damage, fragment):
    first = work["folder"] / "ckpt_000000.pt"
    state = torch.load(first, weights_only=True)
    if damage == "missing":
        del state["head.bias"]
    elif damage == "unexpected":
        state["extra.weight"] = torch.zeros(2)
    else:
        state["scale"] = torch.zeros(2)
    torch.save(state, first)
    assert_refused(run_import(work), work, "ckpt_000000.pt does not fit the model byo_models:TinyNet", fragment)


def test_model_kwargs_that_do_not_match_the_checkpoints(work):
    assert_refused(run_import(work, kwargs='{"width": 9}'), work, "does not fit the model",
                   "embed.weight has shape (6, 6), the model's is (9, 6)")


def test_buffer_the_constructor_does_not_make(work):
    first = work["folder"] / "ckpt_000000.pt"
    state = torch.load(first, weights_only=True)
    state["freqs"] = state["freqs"] * 2
    torch.save(state, first)
    assert_refused(run_import(work), work, "ckpt_000000.pt: buffer freqs differs")


def test_unparseable_step(work):
    torch.save(TinyNet(width=6).state_dict(), work["folder"] / "final.pt")
    assert_refused(run_import(work), work, "final.pt: no step found", "--step-regex")
    assert_refused(run_import(work, "--step-regex", r"epoch(\d+)"), work, "no step found", "epoch")
    assert_refused(run_import(work, "--step-regex", "(unclosed"), work, "is not a regular expression")


def test_two_files_with_the_same_step(work):
    shutil.copy(work["folder"] / "ckpt_000010.pt", work["folder"] / "backup-10.pth")
    assert_refused(run_import(work), work, "both hold step 10", "backup-10.pth")


@pytest.mark.parametrize("name, content, fragment", [
    ("ckpt_000002.pt", b"PK\x03\x04 this is not a zip archive", "not a readable PyTorch checkpoint"),
    ("ckpt_000002.pt", None, "not a readable PyTorch checkpoint"),  # truncated
    ("model-step3.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json", "not a readable safetensors file"),
    ("model-step3.safetensors", None, "not a readable safetensors file"),  # truncated
])
def test_corrupt_checkpoint_files(work, name, content, fragment):
    path = work["folder"] / name
    path.write_bytes(content if content is not None else path.read_bytes()[: len(path.read_bytes()) // 2])
    assert_refused(run_import(work), work, name, fragment)


def test_pickle_that_would_run_code_is_refused_and_runs_nothing(work, tmp_path):
    """weights_only=True refuses a pickle whose __reduce__ calls open(); the control load shows it is live."""
    marker = tmp_path / "pwned"
    torch.save({"embed.weight": _Trap(str(marker))}, work["folder"] / "ckpt_000006.pt")
    assert_refused(run_import(work), work, "ckpt_000006.pt: refused by torch.load(weights_only=True)")
    assert not marker.exists()
    control = tmp_path / "control"
    torch.save({"w": _Trap(str(control))}, tmp_path / "control.pt")
    torch.load(tmp_path / "control.pt", weights_only=False)  # what an unsafe loader would do
    assert control.exists()


class _Trap:
    """Unpickling it calls open(path, "w"): creates a file, i.e. runs code from the checkpoint."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_not_a_state_dict(work):
    torch.save([1, 2, 3], work["folder"] / "ckpt_000004.pt")
    assert_refused(run_import(work), work, "ckpt_000004.pt holds a list, not a state dict")


@pytest.mark.parametrize("arrays, fragment", [
    ({"y_train": np.zeros((64, 1))}, "has no x_train"),
    ({"x_train": np.zeros((64, 1))}, "has no y_train"),
    ({"x_train": np.zeros((64, 1)), "y_train": np.zeros((63, 1))}, "x_train has 64 rows but y_train has 63"),
    ({"x_train": np.zeros((64, 1)), "y_train": np.zeros((64, 1)), "x_eval": np.zeros((8, 1))},
     "only one of x_eval and y_eval"),
    ({"x_train": np.zeros((64, 1)), "y_train": np.zeros((64, 1)), "x_eval": np.zeros((8, 1)),
      "y_eval": np.zeros((9, 1))}, "x_eval has 8 rows but y_eval has 9"),
    ({"x_train": np.full((64, 1), np.nan), "y_train": np.zeros((64, 1))}, "x_train holds NaN"),
    ({"x_train": np.zeros((64, 2)), "y_train": np.zeros((64, 1))}, "cannot evaluate x_train of shape (64, 2)"),
])
def test_bad_data_files(work, arrays, fragment):
    np.savez(work["data"], **arrays)
    assert_refused(run_import(work), work, fragment)


def test_data_file_that_is_not_npz_or_missing(work):
    work["data"].write_text("x,y\n1,2\n")
    assert_refused(run_import(work), work, "is not a readable .npz file")
    work["data"].unlink()
    assert_refused(run_import(work), work, "no such file")


def test_existing_output_without_overwrite_is_untouched(work):
    work["out"].parent.mkdir()
    work["out"].write_bytes(b"precious")
    result = run_import(work)
    assert result.exit_code == 2 and "already exists; pass --overwrite" in result.output
    assert work["out"].read_bytes() == b"precious"


def test_failed_import_with_overwrite_leaves_the_old_file(work):
    """--overwrite replaces the output only with a finished import: a bad checkpoint late in the folder
    (after rows were written to the staging file) leaves the old file as it was and no staging file."""
    work["out"].parent.mkdir()
    work["out"].write_bytes(b"precious")
    (work["folder"] / "ckpt_000040.pt").write_bytes(b"garbage")
    result = run_import(work, "--overwrite")
    assert result.exit_code == 2 and "ckpt_000040.pt" in result.output
    assert work["out"].read_bytes() == b"precious"
    assert sorted(p.name for p in work["out"].parent.iterdir()) == ["run.h5"]


@pytest.mark.parametrize("model, kwargs, fragment", [
    ("no_such_module_xyz:Net", "{}", "cannot import 'no_such_module_xyz'"),
    ("byo_models:NoSuchNet", "{}", "has no attribute 'NoSuchNet'"),
    ("byo_models", "{}", "is not of the form package.module:callable"),
    ("byo_models:TinyNet", '{"depth": 3}', "failed: TypeError"),
    ("byo_models:TinyNet", "{width: 6}", "--model-kwargs is not valid JSON"),
    ("byo_models:TinyNet", "[6]", "must be a JSON object"),
    ("byo_models:target", '{"x": 1.0}', "not a torch nn.Module"),
    ("preset:nope", "{}", "unknown preset 'nope'"),
    ("preset:baseline", '{"colour": 1}', "not model spec fields"),
])
def test_constructor_that_cannot_be_used(work, model, kwargs, fragment):
    assert_refused(run_import(work, model=model, kwargs=kwargs), work, fragment)


def test_model_whose_output_shape_does_not_match_y(work):
    """A model returning (N,) for y_train (N, 1) would broadcast the loss to (N, N): refused."""
    folder = work["folder"]
    shutil.rmtree(folder)
    folder.mkdir()
    from byo_models import FlatOutput

    save_file(FlatOutput().state_dict(), str(folder / "step0.safetensors"))
    assert_refused(run_import(work, model="byo_models:FlatOutput", kwargs="{}"), work,
                   "maps x_train (64, 1) to (64,)", "(N, outputs)")


@pytest.mark.parametrize("text, fragment", [
    ("epoch,value\n0,1.0\n", "has no step and no loss column"),
    ("step,loss\n0,1.0\n0,0.5\n", "has step 0 more than once"),
    ("step,loss\n0,1.0\n1.5,0.5\n", "step 1.5 is not a non-negative integer"),
    ("step,loss\n0,1.0\n1,lots\n", "loss 'lots' is not a number"),
])
def test_bad_loss_logs(work, text, fragment):
    work["losses"].write_text(text)
    assert_refused(run_import(work, "--losses", str(work["losses"])), work, fragment)

