"""Analyzer core: read-only Run view, sidecar cache, bad run files, `analyze info`."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import h5py
import numpy as np
import pytest
from helpers import small_config
from typer.testing import CliRunner

import analyzer
from analyzer.core import registry
from analyzer.core.runner import analyze
from analyzer.core.cache import default_cache_path
from analyzer.cli import app
from analyzer.errors import BadInputError
from analyzer.io.run import open_run
from trainer.engines.loop import train

runner = CliRunner()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run_copy(small_run, tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(small_run.read_bytes())
    return path


def test_run_view_is_lazy_trimmed_and_complete(small_run):
    with open_run(small_run) as run:
        assert run.status == "complete" and run.n_steps == 300 and not run.is_partial
        assert run.loss.shape == (300,) and run.pred.shape == (301, 128, 1)
        assert run.ckpt_steps[-1] == 300 and run.params_at(300).shape == (run.n_params,)
        with pytest.raises(BadInputError, match="stored checkpoints: 31 from 0 to 300 every 10"):
            run.params_at(5)
        model, layout = run.build_model()
        assert layout.n_params == run.n_params


def test_analyses_never_write_the_run_file(run_copy, monkeypatch):
    modes = []
    original = h5py.File

    def spy(name, mode="r", *args, **kwargs):
        if str(name) == str(run_copy):
            modes.append(mode)
        return original(name, mode, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", spy)
    before = digest(run_copy)
    for name in ("plateaus", "spectrum"):
        analyze(run_copy, name)
    analyze(run_copy, "hessian", at="steps", steps=(0, 300))
    analyzer.correlate([run_copy])
    assert digest(run_copy) == before
    assert modes and set(modes) == {"r"}
    assert default_cache_path(run_copy).exists()


def test_cache_hit_does_no_recomputation_and_changes_recompute(run_copy, monkeypatch):
    calls = []
    spec = registry.get("plateaus")
    counting = dataclasses.replace(spec, compute=lambda run, params, deps: calls.append(1) or spec.compute(run, params, deps))
    monkeypatch.setitem(registry.REGISTRY, "plateaus", counting)
    first = analyze(run_copy, "plateaus")
    second = analyze(run_copy, "plateaus")
    assert len(calls) == 1
    pd_equal = first.segments.equals(second.segments)
    assert pd_equal and np.array_equal(first.change_points, second.change_points)
    analyze(run_copy, "plateaus", penalty=2.0)  # other parameters: a miss
    analyze(run_copy, "plateaus", use_cache=False)  # bypass
    assert len(calls) == 3
    analyze(run_copy, "plateaus", cache=run_copy.parent / "elsewhere.h5")
    assert len(calls) == 4 and (run_copy.parent / "elsewhere.h5").exists()


def test_a_grown_or_changed_run_is_recomputed(run_copy):
    with open_run(run_copy) as run:
        before = run.fingerprint
    with h5py.File(run_copy, "r+") as f:  # the test plays the trainer: fewer committed rows
        f["commit"][:3] = [200, 201, 21]
    with open_run(run_copy) as run:
        assert run.fingerprint != before and run.n_steps == 200


def test_a_broken_cache_is_replaced_not_trusted(run_copy):
    cache = default_cache_path(run_copy)
    cache.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 10)
    result = analyze(run_copy, "plateaus")
    assert result is not None and h5py.is_hdf5(cache)


def test_cache_path_equal_to_run_is_refused(run_copy):
    with pytest.raises(BadInputError, match="never written"):
        analyze(run_copy, "plateaus", cache=run_copy)


# ---- bad run files --------------------------------------------------------------------------------

def make_bad(kind: str, tmp_path, small_run):
    path = tmp_path / f"{kind}.h5"
    if kind == "text":
        path.write_text("hello")
    elif kind == "truncated":
        path.write_bytes(small_run.read_bytes()[:5000])
    elif kind == "not-a-run":
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
    else:
        path.write_bytes(small_run.read_bytes())
        with h5py.File(path, "r+") as f:
            if kind == "schema":
                f.attrs["schema_version"] = 7
            elif kind == "missing":
                del f["log/loss"]
    return path


@pytest.mark.parametrize("kind, fragment", [("text", "not an HDF5 file"), ("truncated", "cannot be opened"),
                                            ("not-a-run", "not a run file"), ("schema", "schema version 7"),
                                            ("missing", "missing /log/loss")])
@pytest.mark.parametrize("command", ["info", "plateaus", "spectrum", "hessian"])
def test_bad_run_files_give_one_line_and_exit_2(kind, fragment, command, tmp_path, small_run):
    path = make_bad(kind, tmp_path, small_run)
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.count("error:") == 1 and fragment in result.output
    assert "Traceback" not in result.output


def test_run_with_one_step_and_nan_from_the_start(tmp_path):
    one = tmp_path / "one.h5"
    train(small_config(epochs=1), one)
    result = runner.invoke(app, ["plateaus", str(one)])
    assert result.exit_code == 2 and "error:" in result.output
    nan = tmp_path / "nan.h5"
    nan.write_bytes(one.read_bytes())
    train(small_config(epochs=50), nan, overwrite=True)
    with h5py.File(nan, "r+") as f:
        f["log/loss"][:] = np.nan
    result = runner.invoke(app, ["plateaus", str(nan)])
    assert result.exit_code == 2 and "NaN" in result.output or "finite" in result.output


def test_constant_loss_finds_no_edges_and_says_so(tmp_path, small_run):
    flat = tmp_path / "flat.h5"
    flat.write_bytes(small_run.read_bytes())
    with h5py.File(flat, "r+") as f:
        f["log/loss"][:] = 0.25
    result = runner.invoke(app, ["plateaus", str(flat)])
    assert result.exit_code == 0 and "no plateau edges found" in result.output


def test_info_json_and_table(small_run):
    result = runner.invoke(app, ["info", str(small_run), "--json"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["status"] == "complete" and info["steps"] == 300 and info["checkpoints"] == 31
    assert info["config"]["preset"] == "baseline"
    table = runner.invoke(app, ["info", str(small_run)])
    assert table.exit_code == 0 and "fingerprint" in table.output


def test_a_new_version_of_a_dependency_invalidates_derived_results(run_copy, monkeypatch):
    """correlate builds on spectrum: a new spectrum version must not serve a stale correlate result."""
    calls = []
    spec = registry.get("correlate")
    counting = dataclasses.replace(spec, compute=lambda run, params, deps: calls.append(1) or spec.compute(run, params, deps))
    monkeypatch.setitem(registry.REGISTRY, "correlate", counting)
    analyze(run_copy, "correlate")
    analyze(run_copy, "correlate")
    assert len(calls) == 1
    monkeypatch.setitem(registry.REGISTRY, "spectrum", dataclasses.replace(registry.get("spectrum"), version="new"))
    analyze(run_copy, "correlate")
    assert len(calls) == 2


# ---- cache: exactness, size, stale entries ---------------------------------------------------------

def cache_entries(cache) -> set[str]:
    with h5py.File(cache, "r") as f:
        return {f"{name}/{key}" for name in f for key in f[name]}


def test_stale_entries_are_dropped_and_other_parameters_kept(run_copy, monkeypatch):
    cache = default_cache_path(run_copy)
    analyze(run_copy, "plateaus")
    analyze(run_copy, "plateaus", penalty=2.0)
    analyze(run_copy, "spectrum")
    assert len(cache_entries(cache)) == 3  # other parameters of the same run are kept
    with h5py.File(run_copy, "r+") as f:  # the run changes: every entry of the old fingerprint is stale
        f["commit"][:3] = [200, 201, 21]
    analyze(run_copy, "plateaus")
    assert [entry.split("/")[0] for entry in cache_entries(cache)] == ["plateaus"]
    analyze(run_copy, "correlate", n_permutations=99)  # stores spectrum and correlate too
    assert sorted(entry.split("/")[0] for entry in cache_entries(cache)) == ["correlate", "plateaus", "spectrum"]
    monkeypatch.setitem(registry.REGISTRY, "spectrum", dataclasses.replace(registry.get("spectrum"), version="new"))
    analyze(run_copy, "spectrum")
    # a new spectrum version makes its entries and those of what reads it (correlate) stale, not plateaus'
    assert sorted(entry.split("/")[0] for entry in cache_entries(cache)) == ["plateaus", "spectrum"]


def test_a_growing_run_keeps_one_entry_per_analysis(run_copy):
    """A live run analysed as it grows: every growth is a new fingerprint, and the old entries must go."""
    cache = default_cache_path(run_copy)
    for rows in (100, 150, 200, 250, 300):
        with h5py.File(run_copy, "r+") as f:  # the test plays the trainer: the marker advances
            f["commit"][:3] = [rows, rows + 1, rows // 10 + 1]
        analyze(run_copy, "spectrum")
        analyze(run_copy, "plateaus")
    assert sorted(entry.split("/")[0] for entry in cache_entries(cache)) == ["plateaus", "spectrum"]
    grown = cache.stat().st_size
    cache.unlink()
    analyze(run_copy, "spectrum")
    analyze(run_copy, "plateaus")
    assert grown == cache.stat().st_size


def test_entries_of_other_runs_in_a_shared_cache_are_kept(small_run, run_copy, tmp_path):
    shared = tmp_path / "shared.analysis.h5"
    with h5py.File(run_copy, "r+") as f:  # another run: another fingerprint
        f["commit"][:3] = [200, 201, 21]
    analyze(small_run, "plateaus", cache=shared)
    analyze(run_copy, "plateaus", cache=shared)
    assert len(cache_entries(shared)) == 2


def test_an_old_format_cache_entry_is_dropped(run_copy):
    cache = default_cache_path(run_copy)
    with h5py.File(cache, "w") as f:  # format 1: no run path, fingerprint or versions on the entry
        group = f.create_group("spectrum/0123456789abcdef01234567")
        group["amplitude"] = np.zeros((301, 65), np.float32)
        group.attrs["complete"] = True
    analyze(run_copy, "plateaus")
    assert [entry.split("/")[0] for entry in cache_entries(cache)] == ["plateaus"]


def test_a_failed_store_leaves_the_old_cache_intact(run_copy, monkeypatch):
    from analyzer.core import cache as cache_module

    cache = default_cache_path(run_copy)
    analyze(run_copy, "plateaus")
    before = digest(cache)

    def broken(group, result):
        raise OSError("disk full")

    monkeypatch.setattr(cache_module, "_write_result", broken)
    with pytest.warns(UserWarning, match="disk full"):
        analyze(run_copy, "spectrum")
    assert digest(cache) == before and sorted(p.name for p in run_copy.parent.iterdir()) == [cache.name, run_copy.name]


def test_the_cache_of_a_report_is_under_a_tenth_of_its_run(run_copy, tmp_path):
    result = runner.invoke(app, ["report", str(run_copy), "-o", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert default_cache_path(run_copy).stat().st_size <= 0.10 * run_copy.stat().st_size


def test_spectrum_result_holds_no_array_as_large_as_the_predictions(small_run):
    result = analyze(small_run, "spectrum", use_cache=False)
    with open_run(small_run) as run:
        pred_size = run.pred.size
    sizes = [getattr(result, f.name).size for f in dataclasses.fields(result)
             if isinstance(getattr(result, f.name), np.ndarray)]
    assert max(sizes) < pred_size / 20
