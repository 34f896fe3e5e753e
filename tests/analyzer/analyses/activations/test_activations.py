"""Activation spectra (analyzer/analyses/activations): Lucey's claims as oracles, conventions, bad input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from analyzer.analyses.activations import ACTIVATIONS, ActivationsParams, activation_matrix, compute, section
from analyzer.errors import BadInputError
from trainer.models import ACTIVATIONS as TORCH_ACTIVATIONS

N = 300  # points and biases: an SVD of 300 x 300 per activation keeps each test well under a second


@pytest.fixture(scope="module")
def by_sigma():
    return {sigma: compute(None, ActivationsParams(sigma=sigma, n=N)) for sigma in (5.0, 12.0, 40.0)}


@pytest.mark.parametrize("name", ["heaviside", "relu", "relu2"])
def test_scale_equivariant_activations_have_spectra_independent_of_sigma(by_sigma, name):
    """eta(c t) = c^r eta(t): sigma rescales A, so the normalised spectrum is unchanged (to 1e-6)."""
    for sigma in (12.0, 40.0):
        np.testing.assert_allclose(by_sigma[sigma].singular_values[name], by_sigma[5.0].singular_values[name],
                                   rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["tanh", "gelu", "silu", "sinc", "gaussian"])
def test_other_activations_change_with_sigma(by_sigma, name):
    """Somewhere among the first 30 values the spectra at sigma 5 and 40 differ by more than a factor 2."""
    log_ratio = np.log10(by_sigma[40.0].singular_values[name][:30] / by_sigma[5.0].singular_values[name][:30])
    assert np.abs(log_ratio).max() > np.log10(2)


@pytest.mark.parametrize("sigma", [8, 12, 20])
def test_sinc_is_flat_until_k_near_sigma_then_drops(sigma):
    """0-based k: s_k / s_0 > 0.95 for k <= sigma - 3, between 0.2 and 0.5 at k = sigma, below 0.01 from sigma + 4."""
    spectrum = compute(None, ActivationsParams(sigma=float(sigma), n=400)).singular_values["sinc"]
    assert spectrum[:sigma - 2].min() > 0.95
    assert 0.2 < spectrum[sigma] < 0.5
    assert spectrum[sigma + 4:].max() < 0.01


def test_spectra_are_normalised_descending_and_cover_every_activation(by_sigma):
    result = by_sigma[12.0]
    assert result.activations == tuple(ACTIVATIONS) and len(ACTIVATIONS) == 8
    for name, spectrum in result.singular_values.items():
        assert spectrum[0] == 1.0 and len(spectrum) == N and np.all(np.diff(spectrum) <= 1e-15), name


def test_monotonic_activations_drop_steeply_first(by_sigma):
    """Lucey's fig. 3a: heaviside, relu, relu2 fall by 3x, 6x, 10x at the first step; relu2 fastest at k = 10."""
    singular_values = by_sigma[12.0].singular_values
    assert singular_values["heaviside"][1] == pytest.approx(1 / 3, abs=0.01)
    assert singular_values["relu2"][10] < singular_values["relu"][10] < singular_values["heaviside"][10] < 0.1


def test_heaviside_components_are_a_sine_basis(by_sigma):
    """u_k(x) of the step matrix is sin((2k + 1) pi x / 2) (Lucey's fig. 4a: a strict frequency basis)."""
    result = by_sigma[5.0]
    vectors = result.components[result.activations.index("heaviside")]
    for k, vector in zip(result.component_indices, vectors):
        reference = np.sin((2 * k + 1) * np.pi * result.x / 2)
        assert abs(vector @ reference) / np.linalg.norm(reference) > 0.999


def test_components_are_orthonormal_with_their_largest_entry_positive(by_sigma):
    result = by_sigma[12.0]
    assert result.component_indices == (0, 4, 5, 9)
    for vectors in result.components:
        np.testing.assert_allclose(vectors @ vectors.T, np.eye(4), atol=1e-10)
        assert np.all(vectors[np.arange(4), np.argmax(np.abs(vectors), axis=1)] > 0)


@pytest.mark.parametrize("name", ["relu", "tanh", "gelu", "silu", "relu2", "gaussian"])
def test_activation_formulas_match_the_trainers_torch_activations(name):
    x, biases = np.linspace(0, 1, 40), np.linspace(0, 1, 30)
    ours = activation_matrix(name, 7.0, x, biases)
    theirs = TORCH_ACTIVATIONS[name](torch.from_numpy(7.0 * (x[:, None] - biases[None, :]))).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_sinc_is_the_trainers_sinc_at_sigma_over_pi():
    x, biases = np.linspace(0, 1, 40), np.linspace(0, 1, 30)
    theirs = TORCH_ACTIVATIONS["sinc"](torch.from_numpy(7.0 * (x[:, None] - biases[None, :]))).numpy()
    np.testing.assert_allclose(activation_matrix("sinc", 7.0 / np.pi, x, biases), theirs, rtol=1e-12, atol=1e-14)


def test_fewer_biases_give_fewer_singular_values():
    result = compute(None, ActivationsParams(sigma=10.0, n=200, n_biases=50))
    assert all(len(s) == 50 for s in result.singular_values.values()) and result.components.shape == (8, 4, 200)


@pytest.mark.parametrize("changes,field", [({"sigma": 0.0}, "sigma"), ({"sigma": float("nan")}, "sigma"),
                                           ({"n": 9}, "n must"), ({"n": 10.5}, "n must"),
                                           ({"n_biases": 3}, "n_biases")])
def test_bad_parameters_name_the_field(changes, field):
    with pytest.raises(BadInputError, match=f"activations: {field}"):
        ActivationsParams(**changes)


def test_result_contract_and_section(by_sigma):
    result = by_sigma[12.0]
    assert "sinc 12" in result.headline()
    table = result.tables()["activation spectra"]
    assert list(table.activation) == list(ACTIVATIONS)
    assert table.set_index("activation").loc["sinc", "first_k_below_0.5"] == 12
    figs: dict = {}
    lines = section(SimpleNamespace(label="run", results={"activations": result}, notes={}), figs, "r-", 2)
    assert lines[0] == "## Activation spectra" and set(figs) == {"r-activation_spectra.png",
                                                                 "r-activation_components.png"}
    missing = section(SimpleNamespace(label="run", results={}, notes={"activations": "why"}), {}, "", 3)
    assert missing[-2] == "*activations not available: why*"


def test_activations_writes_its_report_section_with_out(tmp_path):
    from typer.testing import CliRunner

    from analyzer.cli import app

    out = tmp_path / "act"
    first = CliRunner().invoke(app, ["activations", "--n", "200", "-o", str(out)])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == ["REPORT.md", "activation_components.png", "activation_spectra.png"]
    markdown = (out / "REPORT.md").read_text()
    assert "## Activation spectra" in markdown and "| relu |" in markdown
    again = CliRunner().invoke(app, ["activations", "--n", "200", "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output and "Traceback" not in again.output
    assert (out / "REPORT.md").read_text() == markdown
