"""Spherical harmonics (trainer/harmonics.py) and harmonics targets: oracles, run files, CLI, engines."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
from helpers import small_config
from scipy.special import sph_harm_y
from run_arrays import arrays, assert_same_arrays
from cli_helpers import assert_one_line_error, invoke

from trainer import harmonics
from trainer.config import TargetSpec, TrainConfig, validate
from trainer.errors import ConfigError
from trainer.targets import components_from_record, describe, evaluate_components, make_data

MC_POINTS = 200_000  # Monte-Carlo inner products: errors ~ 1/sqrt(MC_POINTS) ~ 2e-3 per entry


def harmonics_config(**changes) -> TrainConfig:
    """A small harmonics run on S^2: degrees 1, 2, 4, one hidden layer."""
    config = small_config(epochs=60)
    target = TargetSpec(kind="harmonics", freqs_hz=(), amps=(1.0, 0.5, 0.25), degrees=(1, 2, 4), input_dim=3,
                        n_train=96)
    model = dataclasses.replace(config.model, in_dim=3, depth=1)
    return dataclasses.replace(config, **({"target": target, "model": model} | changes))


def real_scipy_harmonics(degree: int, x: np.ndarray) -> np.ndarray:
    """Real spherical harmonics of degree l on S^2 from scipy, orthonormal under the uniform probability measure."""
    polar, azimuth = np.arccos(np.clip(x[:, 2], -1, 1)), np.arctan2(x[:, 1], x[:, 0])
    columns = []
    for order in range(-degree, degree + 1):
        value = sph_harm_y(degree, abs(order), polar, azimuth)
        part = value.real if order >= 0 else value.imag
        columns.append(np.sqrt(4 * np.pi) * (part if order == 0 else np.sqrt(2) * part))
    return np.column_stack(columns)


@pytest.mark.parametrize("input_dim", [2, 3, 5])
def test_bases_are_orthonormal_under_the_sampling_measure(input_dim):
    """Degrees 0-4 together: Monte-Carlo Gram matrix within 0.03 of the identity (8 sigma at 2e5 points)."""
    x = harmonics.sample_sphere(MC_POINTS, input_dim, np.random.default_rng(1))
    values = np.hstack([harmonics.orthonormal_basis(input_dim, degree)(x) for degree in range(5)])
    assert values.shape[1] == sum(harmonics.dimension(input_dim, degree) for degree in range(5))
    gram = values.T @ values / MC_POINTS
    assert np.abs(gram - np.eye(len(gram))).max() < 0.03


def test_dimensions_match_the_known_counts():
    assert [harmonics.dimension(2, degree) for degree in range(4)] == [1, 2, 2, 2]
    assert [harmonics.dimension(3, degree) for degree in range(5)] == [1, 3, 5, 7, 9]
    assert [harmonics.dimension(4, degree) for degree in range(5)] == [1, 4, 9, 16, 25]  # (l + 1)^2


@pytest.mark.parametrize("degree", [0, 1, 2, 4])
def test_basis_spans_scipys_spherical_harmonics_on_s2(degree):
    """Each of scipy's real Y_lm is a combination of our basis (to 1e-10), and the change of basis is orthogonal."""
    x = harmonics.sample_sphere(400, 3, np.random.default_rng(2))
    ours, theirs = harmonics.orthonormal_basis(3, degree)(x), real_scipy_harmonics(degree, x)
    change, *_ = np.linalg.lstsq(ours, theirs, rcond=None)
    assert np.abs(ours @ change - theirs).max() < 1e-10
    np.testing.assert_allclose(change.T @ change, np.eye(2 * degree + 1), atol=1e-10)


@pytest.mark.parametrize("degree", [1, 3, 6])
def test_addition_theorem_scipy_and_zonal_agree_on_s2(degree):
    """sum_m Y_lm(x) Y_lm(y) (scipy, probability-normalised) = (2l + 1) P_l(<x, y>) = our zonal Z_l."""
    rng = np.random.default_rng(3)
    x, y = harmonics.sample_sphere(50, 3, rng), harmonics.sample_sphere(50, 3, rng)
    left = real_scipy_harmonics(degree, x) @ real_scipy_harmonics(degree, y).T
    np.testing.assert_allclose(left, harmonics.zonal(3, degree, x @ y.T), atol=1e-10)


@pytest.mark.parametrize("input_dim", [2, 3, 4, 7])
def test_addition_theorem_holds_for_our_bases(input_dim):
    rng = np.random.default_rng(4)
    x, y = harmonics.sample_sphere(40, input_dim, rng), harmonics.sample_sphere(40, input_dim, rng)
    for degree in range(5):
        basis = harmonics.orthonormal_basis(input_dim, degree, seed=degree)
        np.testing.assert_allclose(basis(x) @ basis(y).T, harmonics.zonal(input_dim, degree, x @ y.T), atol=1e-9)


@pytest.mark.parametrize("input_dim,degree", [(2, 3), (3, 2), (6, 2)])
def test_random_component_has_unit_norm_and_its_degree_only(input_dim, degree):
    rng = np.random.default_rng(5)
    component = harmonics.random_component(input_dim, degree, rng)
    assert component.norm() == pytest.approx(1.0, abs=1e-12)
    n_points = MC_POINTS // 4
    x = harmonics.sample_sphere(n_points, input_dim, rng)
    values = component(x)
    assert np.mean(values ** 2) == pytest.approx(1.0, abs=0.05)
    for other in range(degree + 3):  # the projection on each degree: all of it on its own, none elsewhere
        coefficients = harmonics.orthonormal_basis(input_dim, other)(x).T @ values / n_points
        energy = float(coefficients @ coefficients)
        assert energy == pytest.approx(1.0 if other == degree else 0.0, abs=0.05)


def test_data_is_reproducible_from_the_seed_and_the_record():
    target = harmonics_config().target
    first, again = make_data(target), make_data(target)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert np.allclose(np.linalg.norm(first["x_train"], axis=1), 1.0)
    assert first["x_eval"] is first["x_train"]
    other = make_data(dataclasses.replace(target, seed=1))
    assert not np.allclose(other["y_train"], first["y_train"])
    more_points = make_data(dataclasses.replace(target, n_train=200))  # same components, more points
    record = json.loads(json.dumps(describe(target)))
    np.testing.assert_allclose(evaluate_components(components_from_record(record), target.amps,
                                                   more_points["x_train"]), more_points["y_train"], atol=1e-12)


def test_separate_eval_set_keeps_the_training_points():
    target = harmonics_config().target
    with_eval = make_data(dataclasses.replace(target, n_eval=50))
    np.testing.assert_array_equal(with_eval["x_train"], make_data(target)["x_train"])
    assert with_eval["x_eval"].shape == (50, 3)


def test_run_file_stores_the_drawn_components(tmp_path):
    from trainer.engines.loop import train

    config = harmonics_config()
    train(config, tmp_path / "h.h5")
    with h5py.File(tmp_path / "h.h5", "r") as f:
        assert f.attrs["schema_version"] == 3
        record = json.loads(f["data"].attrs["target"])
        x_eval, y_eval = f["data/x_eval"][...], f["data/y_eval"][...]
        assert f["log/pred"].shape[1:] == (96, 1) and x_eval.shape == (96, 3)
        assert TrainConfig.from_json(f.attrs["config"]) == config
    assert record["kind"] == "harmonics" and [c["degree"] for c in record["components"]] == [1, 2, 4]
    rebuilt = evaluate_components(components_from_record(record), record["amps"], x_eval.astype(np.float64))
    np.testing.assert_allclose(rebuilt, y_eval, rtol=1e-5, atol=1e-5)  # float32 storage


def test_fused_and_torch_engines_agree_bit_for_bit_in_three_dimensions(tmp_path):
    from trainer.engines.engine import choose_engine
    from trainer.engines.loop import train

    config = harmonics_config(model=dataclasses.replace(harmonics_config().model, depth=2))
    assert choose_engine(config) == "fused"
    train(config, tmp_path / "fused.h5", engine="fused")
    train(config, tmp_path / "torch.h5", engine="torch")
    assert_same_arrays(arrays(tmp_path / "fused.h5"), arrays(tmp_path / "torch.h5"))


@pytest.mark.parametrize("changes,fragment", [
    ({"input_dim": 1}, "input-dim must be at least 2"),
    ({"degrees": (1, 1, 2)}, "degrees must be distinct"),
    ({"degrees": (1, 2)}, "2 degrees but 3 amplitudes"),
    ({"degrees": (1, 2, -1)}, "degree -1 must be"),
    ({"freqs_hz": (1.0,)}, "not frequencies"),
])
def test_bad_harmonics_targets_are_refused(changes, fragment):
    config = harmonics_config()
    with pytest.raises(ConfigError, match=fragment):
        validate(dataclasses.replace(config, target=dataclasses.replace(config.target, **changes)))


def test_model_and_target_dimensions_must_agree():
    config = harmonics_config()
    with pytest.raises(ConfigError, match="3-D"):
        validate(dataclasses.replace(config, model=dataclasses.replace(config.model, in_dim=1)))
    with pytest.raises(ConfigError, match="input-dim and degrees"):
        validate(dataclasses.replace(small_config(), target=dataclasses.replace(small_config().target, degrees=(1,))))


FAST = ["--epochs", "20", "--n-train", "64", "--width", "8"]


def test_cli_trains_a_harmonics_run(tmp_path):
    out = tmp_path / "h.h5"
    result = invoke("run", "--target", "harmonics", "--input-dim", "4", "--degrees", "1,3", "--amps", "1,0.5",
                    "--target-seed", "7", "--out", str(out), *FAST)
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        config = TrainConfig.from_json(f.attrs["config"])
        assert f["data/x_train"].shape == (64, 4)
    assert config.target.degrees == (1, 3) and config.target.seed == 7 and config.model.in_dim == 4


@pytest.mark.parametrize("args,fragment", [
    (["--degrees", "1,2"], "--target harmonics"),
    (["--target", "harmonics"], "needs --degrees"),
    (["--target", "harmonics", "--degrees", "1,2.5"], "whole numbers"),
    (["--target", "harmonics", "--degrees", "1,2", "--freqs", "3"], "--freqs and --phases"),
    (["--target", "harmonics", "--degrees", "1,2", "--amps", "1"], "2 degrees but 1 amplitudes"),
    (["--target", "harmonics", "--degrees", "1", "--input-dim", "1"], "input-dim must be at least 2"),
    (["--target", "cubes"], "unknown target"),
    (["--target", "harmonics", "--degrees", "1", "--model", "diag-linear"], "diag-linear"),
])
def test_cli_refuses_bad_harmonics_options(tmp_path, args, fragment):
    out = tmp_path / "never.h5"
    assert_one_line_error(invoke("run", *args, "--out", str(out), *FAST), fragment)
    assert not out.exists()


def test_version_2_files_still_read_and_resume(tmp_path, small_run):
    import analyzer
    from trainer.engines.loop import resume

    path = tmp_path / "v2.h5"
    path.write_bytes(small_run.read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 2
        f.attrs["status"] = "interrupted"
        f["commit"][:3] = [100, 101, 11]
    with analyzer.open_run(path) as run:
        assert run.n_steps == 100
    assert resume(path).status == "complete"
