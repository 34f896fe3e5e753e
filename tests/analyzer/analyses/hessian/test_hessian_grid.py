"""`analyze hessian --at grid`: log-spaced checkpoints, per-checkpoint reuse across selections, tolerance columns
against the dense oracle, cost in gradients, and the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def grid_run(small_run):
    """conftest's 300-step baseline-shaped run (P = 321: the certified subspace run, not dense)."""
    return small_run


def test_grid_rows_reused_by_other_selections(grid_run, tmp_path, monkeypatch):
    from analyzer.core.runner import analyze
    from analyzer.curvature import saddle

    path = shutil.copy2(grid_run, tmp_path / "r.h5")
    grid = analyze(path, "hessian", at="grid", per_decade=2)
    assert list(grid.table.step) == [0, 10, 30, 100, 300] and set(grid.table.role) == {"grid"}
    assert (tmp_path / "r.hessian-points.analysis.h5").exists()
    assert (grid.table.cost_gradients > 0).all() and (grid.table.n_hvp > 0).all()

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint computed before was computed again")

    monkeypatch.setattr(saddle, "checkpoint_row", refuse)
    again = analyze(path, "hessian", steps=(10, 100))
    expected = grid.table[grid.table.step.isin([10, 100])].drop(columns="role").reset_index(drop=True)
    got = again.table.drop(columns="role").reset_index(drop=True)
    pd_equal = got[expected.columns].astype(str).equals(expected.astype(str))
    assert pd_equal and list(again.table.role) == ["step", "step"]
    with pytest.raises(AssertionError, match="computed again"):  # --no-cache neither reads nor writes the store
        analyze(path, "hessian", steps=(10,), use_cache=False)


def test_tolerance_columns_equal_dense_counts(grid_run):
    from analyzer.core.runner import analyze
    from analyzer.curvature.sensitivity import SENSITIVITY_TOLS, tolerance_column
    from analyzer.io.run import open_run
    from trainer.models import functional_forward

    result = analyze(grid_run, "hessian", steps=(30,), use_cache=False)
    with open_run(grid_run) as run:
        model, layout = run.build_model("float64")
        x, y = (torch.from_numpy(run.data(k)).double() for k in ("x_train", "y_train"))
        theta = torch.from_numpy(run.params_at(30)).double()
        hess = torch.autograd.functional.hessian(
            lambda t: torch.mean((functional_forward(model, layout, t, x) - y) ** 2), theta).numpy()
    values = np.linalg.eigvalsh((hess + hess.T) / 2)
    for tol in SENSITIVITY_TOLS:
        expected = np.sum(values < -tol * np.abs(values).max()) / len(values)
        assert result.table[tolerance_column(tol)].iloc[0] == pytest.approx(expected)


def test_cli_grid_json_and_bad_per_decade(grid_run):
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["hessian", str(grid_run), "--at", "grid", "--per-decade", "1", "--json", "--no-cache"])
    assert ok.exit_code == 0, ok.output
    assert [r["step"] for r in json.loads(ok.stdout)["table"]] == [0, 10, 100, 300]
    bad = runner.invoke(app, ["hessian", str(grid_run), "--at", "grid", "--per-decade", "0", "--no-cache"])
    assert bad.exit_code == 2 and "per_decade" in bad.output
