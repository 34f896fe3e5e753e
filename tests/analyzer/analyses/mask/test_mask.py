"""The GD mask analysis (Lucey) against an independent SVD of the oracle Jacobian, float64."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ntk_runs import adam, all_layers_gd, frozen_gd, oracle_jacobian, tiny_config  # noqa: F401 (fixtures)

from analyzer.analyses.mask.compute import compute
from analyzer.analyses.mask.params import MaskParams
from analyzer.errors import BadInputError
from analyzer.linalg.kernel import fix_signs
from analyzer.io.run import open_run


def test_frozen_gd_mask_is_exact(frozen_gd):
    with open_run(frozen_gd) as run:
        result = compute(run, MaskParams())
    assert result.exact and result.n_directions >= 5
    assert result.fit_error <= 1e-6
    assert "exact" in result.headline()


def test_fitted_coefficients_equal_v_diag_m_over_s_ut_target(frozen_gd):
    """theta_q - theta_0 = V diag(m(s)/s) U^T (y - f_0), from an independent numpy SVD and the checkpoints."""
    config = tiny_config(freeze_hidden=True)
    with open_run(frozen_gd) as run:
        result = compute(run, MaskParams())
        theta0, x, y = run.params_at(0), run.data("x_train"), run.data("y_train").reshape(-1)
        start = len(theta0) - (config.model.width + 1)
        moved = {int(s): run.params_at(int(s))[start:] - theta0[start:] for s in result.coefficient_steps}
        f0 = run.pred[0].reshape(-1)
    left, singular, right_t = fix_signs(*np.linalg.svd(oracle_jacobian(config, theta0, x, start), full_matrices=False))
    keep = singular > 1e-10 * singular[0]
    left, singular, right_t = left[:, keep], singular[keep], right_t[keep]
    rate = 2 * config.lr / len(y)
    assert result.effective_rate == pytest.approx(rate, rel=1e-15)
    for q in (0, 10, 70, 150):  # checkpoints every 10 steps
        mask = 1 - (1 - rate * singular ** 2) ** q
        expected = right_t.T @ (mask / singular * (left.T @ (y - f0)))
        np.testing.assert_allclose(moved[q], expected, rtol=0, atol=1e-10 * np.abs(expected).max() + 1e-14)
        row = list(result.coefficient_steps).index(q)
        np.testing.assert_allclose(right_t.T @ result.coefficients_predicted[row], expected, atol=1e-10)
        np.testing.assert_allclose(result.coefficients_observed[row], right_t @ moved[q], atol=1e-10)
    np.testing.assert_allclose(result.singular_values, singular, rtol=1e-12)


def test_bandwidth_counts_follow_the_mask(frozen_gd):
    with open_run(frozen_gd) as run:
        result = compute(run, MaskParams())
    iterations = result.bandwidth["step"].to_numpy() - result.step
    valid = result.table["max_error"].notna().to_numpy()
    mask = 1 - (1 - result.effective_rate * result.singular_values[valid][None, :] ** 2) ** iterations[:, None]
    np.testing.assert_array_equal(result.bandwidth["predicted"], (mask > 0.5).sum(axis=1))
    np.testing.assert_array_equal(result.bandwidth["observed"], result.bandwidth["predicted"])
    np.testing.assert_allclose(result.bandwidth["sqrt_q"], np.sqrt(iterations))


def test_all_layers_and_adam_runs_are_measured_not_exact(all_layers_gd, adam):
    for path, optimizer in ((all_layers_gd, "sgd"), (adam, "adam")):
        with open_run(path) as run:
            result = compute(run, MaskParams())
        assert not result.exact and result.optimizer == optimizer
        assert result.fit_error > 1e-3  # the kernel moves: the mask is a linearisation there
    assert "adam" in result.headline()


@pytest.mark.parametrize("field, value", [("rank_tol", 0.0), ("rank_tol", 1.0), ("min_component", -1.0),
                                          ("max_samples", 1)])
def test_bad_parameters_name_the_field(field, value):
    with pytest.raises(BadInputError, match=f"mask: {field}"):
        MaskParams(**{field: value})


def test_a_jacobian_over_the_memory_limit_is_refused(frozen_gd):
    with open_run(frozen_gd) as run, pytest.raises(BadInputError, match="max_jacobian_gb"):
        compute(run, MaskParams(max_jacobian_gb=1e-9))


def test_report_section_has_its_figure_and_table(frozen_gd):
    from types import SimpleNamespace

    from analyzer.analyses.mask.section import section

    with open_run(frozen_gd) as run:
        result = compute(run, MaskParams())
    figs: dict = {}
    lines = section(SimpleNamespace(results={"mask": result}, label="tiny", notes={}), figs, "", 2)
    assert lines[0] == "## Gradient descent as a shrinkage mask" and list(figs) == ["mask.png"]
    assert any(line.startswith("| index | singular_value") for line in lines)


def test_cli_mask_json_on_a_frozen_gd_run_is_exact(frozen_gd, tmp_path):
    from typer.testing import CliRunner

    from analyzer.cli import app

    run = tmp_path / "run.h5"
    run.write_bytes(frozen_gd.read_bytes())
    answer = CliRunner().invoke(app, ["mask", str(run), "--json"])
    assert answer.exit_code == 0, answer.output
    data = json.loads(answer.stdout)
    assert data["exact"] and data["fit_error"] <= 1e-6
    bad = CliRunner().invoke(app, ["mask", str(run), "--rank-tol", "2"])
    assert bad.exit_code == 2 and "mask: rank_tol must be" in bad.stderr
