"""Known-answer runs: the closed form against simulated diag-linear runs, and the detectors against the truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from analyzer.analyses.score.known import ModeSystem, crossing_step, predict
from analyzer.io.run import open_run
from trainer.config import PRESETS, TargetSpec

torch.set_num_threads(1)

CONFIGS = {
    "alvarez_choe": {},
    "flat-amps-p1": {"amps": (1.0, 1.0, 1.0, 1.0), "feature_decay": 1.0, "epochs": 2600},
    "small-init": {"amps": (1.0, 0.5, 0.8, 0.3), "feature_decay": 0.25, "init_scale": 1e-4, "epochs": 1500},
    # large init: escapes as long as the plateaus between them, the hardest case for the edges and the test
    "large-init-p1": {"feature_decay": 1.0, "init_scale": 1e-2, "epochs": 5200},
}


def diag_config(amps=(1.0, 0.8, 0.6, 0.4), feature_decay=0.5, init_scale=1e-3, epochs=1500, ckpt_every=1):
    base = PRESETS["diag-linear"]
    model = dataclasses.replace(base.model, feature_decay=feature_decay, init_scale=init_scale)
    target = dataclasses.replace(base.target, amps=tuple(amps))
    return dataclasses.replace(base, model=model, target=target, epochs=epochs, ckpt_every=ckpt_every)


@pytest.fixture(scope="module", params=list(CONFIGS))
def known_run(request, tmp_path_factory):
    from trainer.engines.loop import train

    config = diag_config(**CONFIGS[request.param])
    path = tmp_path_factory.mktemp("known") / f"{request.param}.h5"
    train(config, path, overwrite=True)
    return path, predict(config)


def run_weights(path) -> tuple[np.ndarray, np.ndarray]:
    """Checkpoint steps and w_j = c_j u_j v_j read back from a run file."""
    with open_run(path) as run:
        steps = run.ckpt_steps
        params = np.stack([run.params_at(s) for s in steps])
        spec = run.model_spec
    k = np.repeat(np.arange(1, spec["features"] + 1, dtype=np.float64), 2)
    n = 2 * spec["features"]
    return steps, k ** -spec["feature_decay"] * params[:, :n] * params[:, n:]


def test_exact_map_matches_the_run(known_run):
    path, known = known_run
    steps, w = run_weights(path)
    np.testing.assert_allclose(w, known.history[steps], rtol=0, atol=1e-12)


def test_escape_steps_of_the_run_lie_within_the_sigmoid_width(known_run):
    path, known = known_run
    steps, w = run_weights(path)
    assert len(known.modes) == 4
    for mode in known.modes.itertuples():
        measured = crossing_step(w[:, mode.feature] / mode.coeff, 0.5)
        assert abs(measured - mode.escape_closed_form) < 1.0  # second-order closed form: within a step
        assert abs(measured - mode.escape_first_order) < mode.width_closed_form / 2  # gradient-flow logistic
        assert abs(mode.width_steps - mode.width_closed_form) < 0.02 * mode.width_closed_form


def test_closed_form_hessian_matches_dense_autograd_hessian(known_run):
    path, known = known_run
    with open_run(path) as run:
        model, layout = run.build_model("float64")
        x, y = (torch.from_numpy(run.data(k)) for k in ("x_train", "y_train"))
        from trainer.models import functional_forward

        loss = lambda theta: torch.mean((functional_forward(model, layout, theta, x) - y) ** 2)  # noqa: E731
        for plateau in known.plateaus.itertuples():
            theta = torch.from_numpy(run.params_at(plateau.hessian_step))
            dense = np.linalg.eigvalsh(torch.func.hessian(loss)(theta).numpy())
            np.testing.assert_allclose(dense, known.eigenvalues_at(plateau.hessian_step), rtol=0, atol=1e-10)
            assert dense.min() == pytest.approx(plateau.lambda_min, abs=1e-10)
            assert np.sum(dense < -1e-12) == plateau.index_count


def test_alvarez_choe_numbers_match_the_issue():
    known = predict(diag_config(ckpt_every=10))
    np.testing.assert_allclose(known.modes.escape_step, [98, 214, 437, 955], atol=0.5)
    np.testing.assert_allclose(known.modes.escape_first_order, [95.2, 211.2, 434.4, 952.1], atol=0.1)
    assert list(known.plateaus.index_count) == [40, 39, 38, 37]
    np.testing.assert_allclose(known.plateaus.lambda_min, [-1.41, -0.62, -0.30, -0.14], atol=0.01)
    assert known.plateaus.lambda_min.iloc[0] == pytest.approx(-2 * 1.0 * (1 / np.sqrt(2)), rel=2e-3)  # -2 c a, a = 1 / sqrt 2


def test_overlapping_escapes_merge_into_one_transition():
    # p = 0 and equal amplitudes: every mode has the same c a, so all escape together; one plateau
    known = predict(diag_config(amps=(1.0, 1.0, 1.0, 1.0), feature_decay=0.0, epochs=400))
    assert len(known.plateaus) == 1
    assert known.plateaus.index_count.iloc[0] == 40


def test_negative_coefficients_never_escape():
    config = diag_config()
    config = dataclasses.replace(config, target=TargetSpec(freqs_hz=(1.0, 3.0), amps=(1.0, -0.5), n_train=256))
    system = ModeSystem.from_config(dataclasses.asdict(config))
    assert np.isnan(system.escape_closed_form()[4])  # sin_3 has a < 0: u = v cannot make c u v negative
    known = predict(config)
    assert list(known.modes.freq_hz) == [1.0]
    assert known.history[-1, 4] < known.history[0, 4]


def test_predict_refuses_other_models():
    from analyzer.errors import BadInputError

    with pytest.raises(BadInputError, match="diag-linear"):
        predict(PRESETS["baseline"])
    with pytest.raises(BadInputError, match="sgd"):
        predict(dataclasses.replace(diag_config(), optimizer="adam"))


# ---- the detectors against the truth (analyze plateaus / spectrum / hessian / correlate via `score`) ----

@pytest.fixture(scope="module")
def scored(known_run):
    from analyzer.core.runner import analyze

    path, _ = known_run
    return analyze(path, "score", use_cache=False)


def rows(result, quantity):
    return result.table[result.table.quantity == quantity]


def test_hessian_recovers_index_and_lambda_min_at_every_plateau(scored, known_run):
    _, known = known_run
    index = rows(scored, "index")
    assert len(index) == len(known.plateaus) >= 1
    assert index.ok.all() and scored.index_exact
    learned_before = [int((known.modes.rise_end_step <= start).sum()) for start in known.plateaus.start_step]
    assert list(index.detected) == [2 * 20 - n for n in learned_before]  # 2K negatives, one fewer per escape
    assert rows(scored, "lambda_min").ok.all()


def test_spectrum_learned_steps_match_the_exact_map(scored):
    learned = rows(scored, "learned_step")
    assert len(learned) == 4 and learned.ok.all()


def test_plateau_edges_within_five_percent_of_plateau_length(scored):
    assert scored.n_plateaus_detected == scored.n_plateaus_predicted
    assert scored.median_edge_error <= 0.05


def test_spectrum_jumps_within_half_a_sigmoid_width(scored):
    assert rows(scored, "jump_step").ok.all()


def test_correlation_rejects_with_three_or_more_plateaus(scored):
    assert scored.correlation_required and scored.p_value < 0.01


@pytest.fixture(scope="module")
def alvarez_choe_run(tmp_path_factory):
    from trainer.engines.loop import train

    path = tmp_path_factory.mktemp("known") / "alvarez-choe-ckpt10.h5"
    train(diag_config(ckpt_every=10), path, overwrite=True)
    return path


def test_score_cli(alvarez_choe_run, small_run):
    from typer.testing import CliRunner

    from analyzer.cli import app

    path = alvarez_choe_run
    runner = CliRunner()
    result = runner.invoke(app, ["score", str(path), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "Hessian index exact" in " ".join(result.output.split())
    result = runner.invoke(app, ["score", str(path), "--no-cache", "--json"])
    assert result.exit_code == 0 and '"index_exact": true' in result.output
    assert runner.invoke(app, ["score", str(path), "--alpha", "2"]).exit_code == 2
    refused = runner.invoke(app, ["score", str(small_run), "--no-cache"])
    assert refused.exit_code == 2 and "diag-linear" in refused.output
