"""Correlate: calibration of the permutation test under its null, power on planted association, run level."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyzer.analyses.correlate import CorrelateParams, permutation_test

LAST_STEP = 10_000


def _log_uniform(rng, n: int) -> np.ndarray:
    return 10 ** rng.uniform(0, np.log10(LAST_STEP + 1), n) - 1


def _null_p_values(params: CorrelateParams, n_sims: int, rng, n_runs: int = 1) -> np.ndarray:
    p_values = []
    for sim in range(n_sims):
        jumps = [_log_uniform(rng, 4) for _ in range(n_runs)]
        edges = [_log_uniform(rng, 6) for _ in range(n_runs)]
        if params.null == "uniform":
            jumps = [rng.uniform(0, LAST_STEP, 4) for _ in range(n_runs)]
        p_values.append(permutation_test(jumps, edges, [LAST_STEP] * n_runs,
                                         dataclasses.replace(params, seed=sim))["p_value"])
    return np.asarray(p_values)


@pytest.mark.parametrize("null, statistic, n_runs", [("log-uniform", "mean_distance", 1),
                                                     ("log-uniform", "mean_distance", 3),
                                                     ("uniform", "mean_distance", 1),
                                                     ("log-uniform", "hit_fraction", 1)])
def test_p_values_are_uniform_under_the_null(null, statistic, n_runs):
    rng = np.random.default_rng(11)
    params = CorrelateParams(n_permutations=199, null=null, statistic=statistic, tolerance=0.2)
    p_values = _null_p_values(params, 400, rng, n_runs)
    if statistic == "mean_distance":
        assert stats.kstest(p_values, "uniform").pvalue > 0.01
    # a discrete statistic gives conservative p-values: never more rejections than alpha, up to noise
    for alpha in (0.05, 0.2, 0.5):
        assert np.mean(p_values <= alpha) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / len(p_values))


def test_planted_association_gives_small_p_and_large_effect():
    rng = np.random.default_rng(5)
    edges = _log_uniform(rng, 6)
    jumps = (edges[:4] + 1) * 10 ** rng.normal(0, 0.02, 4) - 1  # within ~0.02 decades of an edge
    outcome = permutation_test([jumps], [edges], [LAST_STEP], CorrelateParams(n_permutations=999, null="log-uniform"))
    assert outcome["p_value"] < 0.01
    assert outcome["effect_size"] > 2
    assert outcome["observed"] < 0.1 * outcome["null_mean"]
    hits = permutation_test([jumps], [edges], [LAST_STEP], CorrelateParams(n_permutations=999, null="log-uniform", statistic="hit_fraction"))
    assert hits["observed"] == 1.0 and hits["p_value"] < 0.01


def test_pooling_raises_power_over_single_runs():
    rng = np.random.default_rng(8)
    edges = [_log_uniform(rng, 6) for _ in range(6)]
    jumps = [(e[:3] + 1) * 10 ** rng.normal(0, 0.15, 3) - 1 for e in edges]  # a weak association
    params = CorrelateParams(n_permutations=1999, null="log-uniform")
    single = [permutation_test([j], [e], [LAST_STEP], params)["p_value"] for j, e in zip(jumps, edges)]
    pooled = permutation_test(jumps, edges, [LAST_STEP] * 6, params)["p_value"]
    assert pooled < np.median(single) and pooled < 0.01


def test_linear_null_is_fooled_by_log_distributed_events_and_the_log_null_is_not():
    """Why distances are in log-step: independent log-spread jumps and edges look 'close' on a linear axis."""
    rng = np.random.default_rng(2)
    rejections = {"uniform": 0, "log-uniform": 0}
    for sim in range(100):
        jumps, edges = _log_uniform(rng, 4), _log_uniform(rng, 6)
        for null in rejections:
            params = CorrelateParams(n_permutations=199, null=null, seed=sim)
            rejections[null] += permutation_test([jumps], [edges], [LAST_STEP], params)["p_value"] <= 0.05
    assert rejections["uniform"] > 30
    assert rejections["log-uniform"] < 15


def test_runs_without_edges_or_jumps_are_not_tested():
    params = CorrelateParams(n_permutations=99, null="log-uniform")
    outcome = permutation_test([np.array([5.0, 50.0]), np.array([])], [np.array([]), np.array([10.0])],
                               [100, 100], params)
    assert outcome["n_jumps"] == 0 and np.isnan(outcome["p_value"])
    mixed = permutation_test([np.array([5.0, 50.0]), np.array([20.0])], [np.array([]), np.array([10.0])],
                             [100, 100], params)
    assert mixed["n_jumps"] == 1


def test_same_seed_same_p_value():
    args = ([np.array([3.0, 30.0, 300.0])], [np.array([10.0, 100.0])], [1000])
    first = permutation_test(*args, CorrelateParams(n_permutations=500, seed=4))
    again = permutation_test(*args, CorrelateParams(n_permutations=500, seed=4))
    assert first["p_value"] == again["p_value"]


@pytest.mark.parametrize("option", [{"n_permutations": 0}, {"null": "gaussian"}, {"statistic": "median"},
                                    {"tolerance": -1.0}, {"threshold": -0.1}, {"jumps": "some"}, {"alpha": 1.0},
                                    {"reference": "corners"}])
def test_out_of_range_options(option):
    from analyzer.core import registry
    from analyzer.errors import BadInputError

    with pytest.raises(BadInputError):
        registry.make_params(registry.get("correlate"), **option)


# ---- run level: plateaus replaced by a stub whose edges we choose ------------------------------------


@dataclasses.dataclass(frozen=True)
class _StubPlateaus:
    edges: np.ndarray
    escapes: np.ndarray | None = None

    def edge_steps(self, method: str = "changepoint") -> np.ndarray:
        return self.edges

    def loss_drop_steps(self) -> np.ndarray:
        return self.edges if self.escapes is None else self.escapes


@pytest.fixture
def stub_edges(monkeypatch):
    from analyzer.core import registry

    chosen = {"edges": np.array([])}
    registry.get("spectrum")  # load the built-in analyses first, so the stub is not overwritten
    stub = registry.Analysis("plateaus", CorrelateParams, _StubPlateaus,
                             lambda run, params, deps: _StubPlateaus(chosen["edges"], chosen.get("escapes")),
                             "stub", "stub")
    monkeypatch.setitem(registry.REGISTRY, "plateaus", stub)
    return chosen


def test_run_level_distances_against_the_spectrum_jumps(small_run, stub_edges):
    from analyzer import analyze
    from analyzer.core.runner import analyze_pooled

    spectrum = analyze(small_run, "spectrum", use_cache=False)
    if spectrum.jumps.empty:
        pytest.skip("the small run has no frequency jump")
    stub_edges["edges"] = spectrum.jumps.step.to_numpy(dtype=float)[:1] + 2.0
    result = analyze_pooled([small_run, small_run], "correlate", use_cache=False, n_permutations=199)
    assert result.n_runs == 2 and result.n_jumps == 2 * len(spectrum.jumps)
    frame = result.distances
    assert list(frame.columns[:5]) == ["run", "freq_hz", "jump_step", "nearest_reference_step", "distance_steps"]
    np.testing.assert_array_equal(frame.nearest_reference_step, stub_edges["edges"][0])
    np.testing.assert_allclose(frame.distance_steps, np.abs(frame.jump_step - stub_edges["edges"][0]))
    assert 0 < result.p_value <= 1 and "pooled" in result.headline()
    assert set(result.tables()) == {"permutation test", "jump to nearest loss-drop midpoint"}


def test_reference_picks_escapes_or_edges(small_run, stub_edges):
    from analyzer import analyze

    stub_edges["edges"], stub_edges["escapes"] = np.array([7.0, 70.0]), np.array([30.0])
    escapes = analyze(small_run, "correlate", use_cache=False, n_permutations=99)
    edges = analyze(small_run, "correlate", use_cache=False, n_permutations=99, reference="edges")
    if escapes.distances.empty:
        pytest.skip("the small run has no frequency jump")
    assert set(escapes.distances.nearest_reference_step) == {30.0} and escapes.n_reference_points == 1
    assert set(edges.distances.nearest_reference_step) <= {7.0, 70.0} and edges.n_reference_points == 2
    assert "loss-drop midpoints" in escapes.headline() and "plateau edges" in edges.headline()


def test_run_level_without_edges_says_so(small_run, stub_edges):
    from analyzer import analyze

    result = analyze(small_run, "correlate", use_cache=False, n_permutations=99)
    assert result.p_value is None and result.headline().startswith("nothing to test")
    assert isinstance(result.distances, pd.DataFrame)


def test_cli_correlate_json(small_run, stub_edges):
    from typer.testing import CliRunner

    from analyzer.cli import app

    stub_edges["edges"] = np.array([5.0, 50.0])
    runner = CliRunner()
    result = runner.invoke(app, ["correlate", str(small_run), str(small_run), "--json", "--no-cache",
                                 "--permutations", "99"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n_runs"] == 2 and payload["n_reference_points"] == 4
    bad = runner.invoke(app, ["correlate", str(small_run), "--permutations", "0", "--no-cache"])
    assert bad.exit_code == 2


# ---- one run: its figures describe it, they test nothing ---------------------------------------------------


def test_one_run_is_descriptive_without_a_p_value_shown(small_run, stub_edges):
    from analyzer import analyze
    from analyzer.analyses.correlate.result import DESCRIPTIVE
    from analyzer.analyses.correlate.section import section

    spectrum = analyze(small_run, "spectrum", use_cache=False)
    if spectrum.jumps.empty:
        pytest.skip("the small run has no frequency jump")
    stub_edges["edges"] = spectrum.jumps.step.to_numpy(dtype=float)[:1] + 2.0  # jumps right at the references
    result = analyze(small_run, "correlate", use_cache=False, n_permutations=199)
    assert result.descriptive_only and result.n_runs == 1 and result.p_value is not None  # kept for --json
    text = result.headline()
    assert text.endswith(DESCRIPTIVE) and "p=" not in text and "chance" not in text and "closer" not in text
    assert f"{result.n_jumps} jumps" in text and "effect" in text
    summary = next(iter(result.tables().values()))
    assert "p-value" not in set(summary.quantity) and "effect (observed - null mean)" in set(summary.quantity)
    analyses = type("Analyses", (), {"results": {"correlate": result, "spectrum": spectrum}, "notes": {}})()
    lines = section(analyses, {}, "", 2)
    assert text in lines and not any(line.startswith("**") for line in lines)
    assert not any("p-value" in line or "p=" in line for line in lines)


def test_one_run_cli_prints_the_description_and_json_keeps_the_keys(small_run, stub_edges):
    from typer.testing import CliRunner

    from analyzer.cli import app

    stub_edges["edges"] = np.array([5.0, 50.0])
    runner = CliRunner()
    shown = runner.invoke(app, ["correlate", str(small_run), "--no-cache", "--permutations", "99"])
    assert shown.exit_code == 0, shown.output
    if "nothing to test" in shown.stdout:
        pytest.skip("the small run has no frequency jump")
    assert "one run: descriptive; `analyze study` tests across runs" in " ".join(shown.stdout.split())
    assert "p=" not in shown.stdout and "p-value" not in shown.stdout
    payload = json.loads(runner.invoke(app, ["correlate", str(small_run), "--json", "--no-cache",
                                             "--permutations", "99"]).stdout)
    assert payload["descriptive_only"] is True and "p_value" in payload and payload["n_runs"] == 1
    pooled = json.loads(runner.invoke(app, ["correlate", str(small_run), str(small_run), "--json", "--no-cache",
                                            "--permutations", "99"]).stdout)
    assert pooled["descriptive_only"] is False and "p=" in pooled["conclusion"]
