"""An uncertified saddle index is never a count: brackets and SLQ estimates, checked against the dense float64
Hessian (torch.autograd + numpy.linalg.eigh), and shown as such in every table, headline, figure and JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from analyzer.linalg.operators.dense import MatrixOperator
from analyzer.linalg.operators.hessian import HessianOperator
from analyzer.linalg.slq import probe_bounds, spectral_density
from hessian_oracles import mlp_loss, oracle_eigenvalues


def null_heavy_matrix(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A spectrum like the MLPs': 80 % exact zeros, a few negatives, a spread of positives, tiny values near 0."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([np.zeros(400), -rng.uniform(0.01, 0.3, 25), rng.uniform(-1e-4, 1e-4, 15),
                             rng.uniform(0.01, 1.0, 60)])
    q, _ = np.linalg.qr(rng.standard_normal((len(values), len(values))))
    return (q * values) @ q.T, values


@pytest.mark.parametrize("threshold", [-0.2, -0.05, -0.005, -1e-3])
def test_each_probe_bracket_holds_its_exact_spectral_measure(threshold):
    """The CMS bracket with a node prescribed at the threshold is a bound, not an estimate: the probe's true
    mass below the threshold (from the dense eigenvectors) lies inside it, every probe, every threshold."""
    from analyzer.linalg.slq import lanczos_tridiagonal

    matrix, _ = null_heavy_matrix()
    values, vectors = np.linalg.eigh(matrix)
    for seed in range(6):
        probe = np.random.default_rng(seed).choice([-1.0, 1.0], size=len(matrix)) / math.sqrt(len(matrix))
        alphas, betas = lanczos_tridiagonal(MatrixOperator(matrix), 30, np.random.default_rng(seed))
        true_mass = float(np.sum((vectors.T @ probe) ** 2 * (values < threshold)))
        estimate, low, high = probe_bounds(alphas, betas, threshold)
        assert low - 1e-12 <= true_mass <= high + 1e-12
        assert low <= estimate <= high


@pytest.fixture(scope="module")
def mlp_and_spectrum():
    """A seed-architecture MLP (P = 1,021, rank ~120: ~88 % null space) and its dense float64 spectrum."""
    loss_fn, theta = mlp_loss(2, 30, n=150)
    return loss_fn, theta, oracle_eigenvalues(loss_fn, theta)


@pytest.mark.parametrize("seed", [0, 1])
def test_slq_fraction_contains_the_dense_truth_with_a_useful_bar(mlp_and_spectrum, seed):
    """70 steps < rank, so the quadrature bracket is in play: the dense fraction below the threshold lies in
    the reported bar, and the bar is narrow (under half the fraction itself, never [0, 1])."""
    loss_fn, theta, exact = mlp_and_spectrum
    scale = np.abs(exact).max()
    density = spectral_density(HessianOperator(loss_fn, theta), probes=16, steps=70, seed=seed)
    assert density.scale == pytest.approx(scale, rel=1e-8)  # the top node converges first
    for rel_tol in (1e-3, 1e-2):
        true_fraction = float(np.mean(exact < -rel_tol * scale))
        found = density.fraction_below(-rel_tol * scale)
        assert found.low <= true_fraction <= found.high, (rel_tol, found, true_fraction)
        assert 0 < found.high - found.low < 0.5 * true_fraction
        assert found.estimate == pytest.approx(true_fraction, rel=0.15)


def test_slq_is_exact_when_every_probe_exhausts_the_hessian():
    """P = 321 with rank ~80 < 100 steps: each probe's quadrature is exact, only the sampling error remains."""
    loss_fn, theta = mlp_loss(2, 16)
    exact = oracle_eigenvalues(loss_fn, theta)
    threshold = -1e-3 * np.abs(exact).max()
    density = spectral_density(HessianOperator(loss_fn, theta), probes=24, steps=100, seed=1)
    found = density.fraction_below(threshold)
    assert found.low <= np.mean(exact < threshold) <= found.high
    assert found.high - found.low == pytest.approx(4 * found.sampling_error, rel=0.2)  # +-2 standard errors
    trace, trace_err = density.trace()
    assert abs(trace - exact.sum()) <= 1.5 * trace_err


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from helpers import small_config
    from trainer.engines.loop import train

    path = tmp_path_factory.mktemp("honest") / "r.h5"
    train(small_config(epochs=60), path, overwrite=True)
    return path


def dense_counts(run_path, steps, rel_tol):
    from analyzer.io.model import loss_closure
    from analyzer.io.run import open_run

    counts = {}
    with open_run(run_path) as run:
        loss_fn = loss_closure(run)
        for step in steps:
            exact = oracle_eigenvalues(loss_fn, torch.from_numpy(run.params_at(step)).double())
            counts[step] = int(np.sum(exact < -rel_tol * np.abs(exact).max()))
    return counts


def test_a_capped_run_is_a_bracket_everywhere_it_is_shown(small_run):
    from analyzer.core.runner import analyze
    from analyzer.curvature.index_status import fraction_band

    result = analyze(small_run, "hessian", steps=(0, 60), krylov_steps=20, use_cache=False)
    table, truth = result.table, dense_counts(small_run, (0, 60), 1e-6)
    assert (table.index_kind == "bracket").all() and table.index_count.isna().all()
    assert not table.converged.any() and table.extremes_converged.all()  # the extremes are fine, the index not
    for row in table.itertuples():
        assert row.index_low <= truth[row.step] <= row.index_high
    shown = result.tables()["Hessian at checkpoints"]
    assert "index_count" not in shown and (shown.index_status == "bracket").all()
    assert all(text == f"{math.ceil(lo - 1e-9):,}-{math.floor(hi + 1e-9):,}"
               for text, lo, hi in zip(shown["index"], table.index_low, table.index_high))
    headline = result.headline()
    assert "not certified: Krylov cap 20 reached" in headline and "--krylov-steps 321" in headline
    assert "certified at every" not in headline
    fraction, low, high = fraction_band(table, result.n_params)
    assert np.isnan(fraction).all() and (low >= 0).all() and (high <= 1).all()


def test_the_estimate_is_labelled_and_contains_the_dense_count(small_run):
    from analyzer.core.runner import analyze

    result = analyze(small_run, "hessian", steps=(0, 60), index_method="estimate", use_cache=False)
    table, truth = result.table, dense_counts(small_run, (0, 60), 1e-3)
    assert (table.index_kind == "estimate").all() and table.index_count.isna().all()
    assert (table.method == "slq").all() and not table.converged.any()
    for row in table.itertuples():
        assert row.index_low <= truth[row.step] <= row.index_high
        assert row.index_high - row.index_low < 0.1 * result.n_params
    assert all(text.startswith("~") and "%" in text for text in result.tables()["Hessian at checkpoints"]["index"])
    assert "SLQ estimate (16 probes x 150 steps)" in result.headline()
    assert "--index-method certified" in result.headline()


def test_auto_picks_the_estimate_above_the_size_limit_and_says_why(small_run):
    from analyzer.analyses.hessian import HessianParams
    from analyzer.core.runner import analyze
    from analyzer.curvature.cost import method_label

    assert method_label(HessianParams(certify_max_params=200), 321).startswith("SLQ estimate")
    assert "P = 321 > --certify-max-params 200" in method_label(HessianParams(certify_max_params=200), 321)
    assert method_label(HessianParams(), 321).startswith("certified")
    assert method_label(HessianParams(), 50).startswith("dense")
    result = analyze(small_run, "hessian", steps=(60,), certify_max_params=200, use_cache=False)
    assert result.table.index_kind.tolist() == ["estimate"]
    certified = analyze(small_run, "hessian", steps=(60,), use_cache=False)
    assert certified.table.index_kind.tolist() == ["certified"] and certified.table.converged.all()
    assert certified.table.index_count.iloc[0] == dense_counts(small_run, (60,), 1e-6)[60]


def table_column(text: str, name: str) -> list[str]:
    """The cells under header `name` of a console table (rich splits a wide table into blocks of columns)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [cell.strip() for cell in line.split("┃")]
        if name in cells:
            return [row.split("│")[cells.index(name)].strip() for row in lines[i + 1:]
                    if row.count("│") == line.count("┃")]
    return []


def test_cli_json_and_table_never_show_an_uncertified_count(small_run):
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    args = ["hessian", str(small_run), "--steps", "0,60", "--krylov-steps", "20", "--no-cache"]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "bracket" in shown.stdout and table_column(shown.stdout, "converged") == ["False", "False"]
    rows = json.loads(runner.invoke(app, args + ["--json"]).stdout)["table"]
    assert all(r["index_count"] is None and r["index_kind"] == "bracket" and r["converged"] is False for r in rows)
    assert all("Krylov cap 20 reached" in r["index_note"] for r in rows)


def test_study_decides_saddles_by_the_bounds_and_names_the_undecided():
    from types import SimpleNamespace

    from study_fakes import curvature

    from analyzer.study.claims.saddles import saddle_description, saddle_verdict

    def run(rows):
        table = pd.DataFrame(rows, columns=["role", "index_count", "index_low", "index_high"])
        return SimpleNamespace(path="x"), curvature(None, table, pd.DataFrame(columns=["start_step", "end_step"]))

    extracts = [run([("middle", 3, 3, 3), ("start", np.nan, 0, 50)]), run([("middle", np.nan, 2, 40)]),
                run([("middle", np.nan, 0, 40)]), run([("middle", 0, 0, 0)])]
    assert saddle_verdict(None, None, {}) == "untested"  # the count is descriptive: only the controls decide
    text = saddle_description(extracts)
    assert "2 of 3 plateau-middle checkpoints have index >= 1" in text
    assert "1 more left out: not certified" in text
    assert saddle_description([run([("middle", np.nan, 0, 40)])]).endswith(
        "not certified at any of the 1 plateau-middle checkpoints: undecided")
