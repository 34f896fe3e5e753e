"""`analyze escape`: overlaps (raw and normalised) and loss drops of escape and control displacements against a
dense float64 oracle, frequencies of J v against numpy's FFT, the random-subspace null by sampling, windows and CLI
errors. The control's selection and the pooled test: tests/analyzer/analyses/escape/test_escape_control.py."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from trainer.config import PRESETS, ModelSpec

TOL = 1e-6


def _width12_run(tmp_path_factory, preset: str):
    """Alvarez & Choe's `preset` at width 12 (P = 193), 3000 steps."""
    from trainer.engines.loop import train

    path = tmp_path_factory.mktemp("escape") / f"{preset}12.h5"
    train(dataclasses.replace(PRESETS[preset], epochs=3000, model=ModelSpec(width=12)), path, overwrite=True)
    return path


@pytest.fixture(scope="module")
def sgd_run(tmp_path_factory):
    """The sgd preset: a plateau from step 0, a drop, a second plateau to the end (issue 22)."""
    return _width12_run(tmp_path_factory, "sgd")


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    """The baseline preset (Adam): a plateau, an escape, and a non-plateau descent before the plateau."""
    return _width12_run(tmp_path_factory, "baseline")


def _oracle(run, step_a: int, step_b: int, index_tol: float) -> dict:
    """Dense float64 Hessian at step_a (torch.autograd) + numpy.linalg.eigh; overlaps of theta(b) - theta(a)."""
    from trainer.models import functional_forward

    model, layout = run.build_model("float64")
    x, y = (torch.from_numpy(run.data(k)).double() for k in ("x_train", "y_train"))
    loss = lambda t: torch.mean((functional_forward(model, layout, t, x) - y) ** 2)  # noqa: E731
    theta_a = torch.from_numpy(run.params_at(step_a)).double()
    hess = torch.autograd.functional.hessian(loss, theta_a).numpy()
    values, vectors = np.linalg.eigh((hess + hess.T) / 2)
    d = run.params_at(step_b) - run.params_at(step_a)
    scale = np.abs(values).max()
    coords = vectors.T @ d
    frac = lambda mask: np.sum(coords[mask] ** 2) / (d @ d)  # noqa: E731
    negative = values < -index_tol * scale
    n = int(negative.sum())
    top = np.zeros_like(negative)
    top[np.argsort(values)[::-1][:n]] = True
    in_range = np.abs(values) > 1e-9 * scale
    chance = n / in_range.sum()  # a random direction in the range
    theta_b = torch.from_numpy(run.params_at(step_b)).double()
    return {"n_negative": n, "overlap_negative": frac(negative), "overlap_top": frac(top),
            "overlap_random": chance * frac(in_range), "rank": int(in_range.sum()),
            "overlap_negative_norm": frac(negative) / chance, "overlap_top_norm": frac(top) / chance,
            "loss_drop_decades": float(np.log10(loss(theta_a).item()) - np.log10(loss(theta_b).item())),
            "span_decades": float(np.log10((step_b + 1) / (step_a + 1))), "vector": vectors[:, 0], "values": values}


@pytest.mark.parametrize("dense_max_params", [100, 1000])  # certified subspace run (P = 193), dense LAPACK
def test_overlaps_equal_the_dense_oracle(sgd_run, dense_max_params):
    from analyzer.core.runner import analyze
    from analyzer.io.run import open_run

    result = analyze(sgd_run, "escape", use_cache=False, dense_max_params=dense_max_params)
    assert len(result.table) == 1
    row = result.table.iloc[0]
    assert row.method == ("exhaustive" if dense_max_params == 100 else "dense")
    assert row.plateau_step < row.drop_mid < row.after_step
    with open_run(sgd_run) as run:
        for prefix, (a, b) in (("", (row.plateau_step, row.after_step)),
                               ("control_", (row.control_start, row.control_end))):
            oracle = _oracle(run, int(a), int(b), 1e-6)
            assert row[f"{prefix}n_negative"] == oracle["n_negative"] > 0
            assert row[f"{prefix}rank"] == oracle["rank"]
            for name in ("overlap_negative", "overlap_top", "overlap_random", "loss_drop_decades", "span_decades"):
                assert abs(row[f"{prefix}{name}"] - oracle[name]) < TOL, (prefix, name)
            for name in ("overlap_negative_norm", "overlap_top_norm"):  # ratios: relative tolerance
                assert abs(row[f"{prefix}{name}"] - oracle[name]) < TOL * max(1.0, oracle[name]), (prefix, name)
        spectrum = result.eigenvalues[list(result.eigenvalue_steps).index(row.plateau_step)]
        exact = _oracle(run, int(row.plateau_step), int(row.after_step), 1e-6)["values"]
        np.testing.assert_allclose(spectrum, exact, atol=1e-8 * np.abs(exact).max())
    # the control's start is, among the candidate starts evaluated, the one of closest index to the escape's
    candidates = [k for k, step in enumerate(result.eigenvalue_steps) if step != row.plateau_step]
    assert len(candidates) == row.control_candidates >= 1 and row.control_start in result.eigenvalue_steps[candidates]
    index = {int(result.eigenvalue_steps[k]): int(np.sum(result.eigenvalues[k] < -1e-6 * np.abs(result.eigenvalues[k])
                                                         .max())) for k in candidates}
    assert abs(index[row.control_start] - row.n_negative) == min(abs(n - row.n_negative) for n in index.values())
    # plateau, drop, plateau to the end: no stretch outside the plateaus and the escape, so the control lies in one
    assert row.control_kind == "plateau"


def test_loss_matched_control_against_the_dense_oracle(adam_run):
    """A run with a non-plateau descent: its control matches the escape's loss drop (the oracle's loss), lies outside
    every plateau and the escape, and its overlaps equal the dense oracle's at the control's own start."""
    from analyzer.analyses.escape.control import LOSS_MATCHED
    from analyzer.core.runner import analyze
    from analyzer.io.run import open_run

    result = analyze(adam_run, "escape", use_cache=False, dense_max_params=1000)
    plateaus = analyze(adam_run, "plateaus", use_cache=False).plateaus("changepoint")
    assert len(result.table) == 1
    row = result.table.iloc[0]
    assert row.control_kind in LOSS_MATCHED
    with open_run(adam_run) as run:
        escape = _oracle(run, int(row.plateau_step), int(row.after_step), 1e-6)
        control = _oracle(run, int(row.control_start), int(row.control_end), 1e-6)
    assert abs(np.log(control["loss_drop_decades"] / escape["loss_drop_decades"])) <= np.log(1.25)
    assert row.control_end < row.plateau_step or row.control_start > row.after_step
    assert not any(row.control_start <= p.end_step and row.control_end >= p.start_step for p in plateaus.itertuples())
    for name in ("overlap_negative", "loss_drop_decades", "span_decades", "n_negative", "rank"):
        assert abs(row[f"control_{name}"] - control[name]) < TOL, name
    for name in ("overlap_negative_norm", "overlap_top_norm"):
        assert abs(row[f"control_{name}"] - control[name]) < TOL * max(1.0, control[name]), name
        assert abs(row[name] - escape[name]) < TOL * max(1.0, escape[name]), name


def test_negative_direction_frequency_equals_numpy_fft_of_jv(sgd_run):
    from analyzer.core.runner import analyze
    from analyzer.io.run import open_run
    from trainer.models import functional_forward

    row = analyze(sgd_run, "escape", use_cache=False).table.iloc[0]
    with open_run(sgd_run) as run:
        oracle = _oracle(run, int(row.plateau_step), int(row.after_step), 1e-6)
        model, layout = run.build_model("float64")
        x = torch.from_numpy(run.data("x_eval")).double()
        theta = torch.from_numpy(run.params_at(int(row.plateau_step))).double()
        jac = torch.autograd.functional.jacobian(lambda t: functional_forward(model, layout, t, x).reshape(-1), theta)
        power = np.abs(np.fft.rfft(jac.numpy() @ oracle["vector"])) ** 2
        freqs = np.fft.rfftfreq(len(x), d=1.0 / len(x))  # grid of [0, 1): bin k is k Hz
        targets = np.asarray(run.target["freqs_hz"], dtype=float)
        bins = [int(np.argmin(np.abs(freqs - f))) for f in targets]
    assert row.negative_freq == targets[int(np.argmax(power[bins]))]
    assert np.isfinite(row.jump_freq)  # a jump was found inside the escape window
    assert 0 < row.negative_share <= 1


def test_random_null_is_the_mean_over_random_subspaces_of_the_range(sgd_run):
    """overlap_random's closed form equals the Monte-Carlo mean over Haar-random subspaces of H's range."""
    from analyzer.analyses.escape.eigensystem import Eigensystem, overlaps

    rng = np.random.default_rng(0)
    values = np.concatenate([-np.linspace(1, 2, 4), np.linspace(1, 5, 8), np.zeros(8)])
    basis, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    system = Eigensystem(values, basis, 20, 0.0, "dense", 0)
    d = rng.standard_normal(20)
    expected = overlaps(system, d, 1e-6)["overlap_random"]
    in_range = basis[:, np.abs(values) > 0]
    samples = []
    for _ in range(4000):
        q, _ = np.linalg.qr(in_range @ rng.standard_normal((12, 4)))
        samples.append(np.sum((q.T @ d) ** 2) / (d @ d))
    assert abs(np.mean(samples) - expected) < 4 * np.std(samples) / np.sqrt(len(samples))


def test_cli_json_rows_and_bad_input(sgd_run, tmp_path):
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["escape", str(sgd_run), "--json", "--no-cache"])
    assert ok.exit_code == 0, ok.output
    rows = json.loads(ok.stdout)["table"]
    for field in ("plateau_step", "after_step", "n_negative", "overlap_negative", "overlap_top", "overlap_random",
                  "control_overlap_negative", "negative_freq", "jump_freq", "overlap_negative_norm",
                  "control_overlap_negative_norm", "control_kind", "loss_drop_decades", "control_loss_drop_decades"):
        assert field in rows[0]
    bad = runner.invoke(app, ["escape", str(sgd_run), "--index-tol", "-1", "--no-cache"])
    assert bad.exit_code == 2 and "index_tol" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["escape", str(tmp_path / "none.h5")])
    assert missing.exit_code == 2


def test_score_checks_the_escape_analysis_against_the_closed_form(known_run):
    """diag-linear: overlap with the negative eigenspace, its dimension and the escaping mode's frequency."""
    from analyzer.analyses.score.escape_rows import closed_form_escape
    from analyzer.analyses.score.known import predict
    from analyzer.core.runner import analyze

    score = analyze(known_run, "score", use_cache=False)
    rows = score.table[score.table.quantity.str.startswith("escape_")]
    assert len(rows) == 3 * len(predict(known_run).plateaus) and rows.ok.all() and score.passed
    directions = rows[rows.quantity == "escape_direction_freq"].detected.tolist()
    assert directions == [1.0, 3.0, 7.0, 15.0]  # each escape's most negative direction is the mode that escapes
    known = predict(known_run)
    truth = closed_form_escape(known, 0, 600, 1e-12)  # a displacement over two escapes: both modes negative at 0
    assert truth["n_negative"] == 40 and truth["negative_freq"] == 1.0 and truth["overlap_negative"] > 0.999


def test_run_without_an_escape_gives_an_empty_table(small_run):
    """A 300-step run whose loss never drops out of a plateau: no escape, a headline that says so, valid JSON."""
    from analyzer.core.runner import analyze
    from analyzer.core.serialize import to_jsonable

    result = analyze(small_run, "escape", use_cache=False)
    if len(result.table):  # the detector found a drop after all: then every row must be complete
        assert result.table[["overlap_negative", "control_overlap_negative"]].notna().all().all()
    else:
        assert "no escape" in result.headline() and result.eigenvalues.shape == (0, result.n_params)
    json.dumps(to_jsonable(result), allow_nan=True)
