"""The runner: declared dependencies resolved through the cache with the user's parameters, cache keys that
cover only an analysis's own version and its dependencies'."""

from __future__ import annotations

import dataclasses

import pytest

from analyzer.core import registry
from analyzer.core.runner import analyze
from analyzer.errors import BadInputError


@pytest.fixture
def run_copy(small_run, tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(small_run.read_bytes())
    return path


def counting(monkeypatch, name: str) -> list:
    """Count the computes of analysis `name` (with the parameters they got)."""
    calls = []
    spec = registry.get(name)

    def compute(run, params, deps):
        calls.append(params)
        return spec.compute(run, params, deps)

    monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(spec, compute=compute))
    return calls


def test_a_dependency_is_read_from_the_cache_not_recomputed(run_copy, monkeypatch):
    plateaus = counting(monkeypatch, "plateaus")
    analyze(run_copy, "plateaus")
    analyze(run_copy, "correlate", n_permutations=99)
    assert len(plateaus) == 1


def test_the_users_dependency_parameters_reach_the_dependency(run_copy, monkeypatch):
    plateaus = counting(monkeypatch, "plateaus")
    spectrum = counting(monkeypatch, "spectrum")
    analyze(run_copy, "correlate", use_cache=False, n_permutations=99, threshold=0.2, plateaus={"penalty": 3.0})
    assert [p.penalty for p in plateaus] == [3.0]
    assert [p.threshold for p in spectrum] == [0.2]  # correlate's threshold sets the spectrum's


def test_hessian_picks_plateau_checkpoints_with_the_users_plateau_parameters(run_copy, monkeypatch):
    plateaus = counting(monkeypatch, "plateaus")
    analyze(run_copy, "hessian", use_cache=False, k=2, plateaus={"min_duration": 0.3})
    assert [p.min_duration for p in plateaus] == [0.3]
    analyze(run_copy, "hessian", use_cache=False, k=2, steps=(0, 300))  # given steps need no plateaus
    assert len(plateaus) == 1


def test_a_derived_parameter_contradicting_the_user_is_refused(run_copy):
    with pytest.raises(BadInputError, match="correlate: spectrum's threshold is set by correlate"):
        analyze(run_copy, "correlate", use_cache=False, threshold=0.2, spectrum={"threshold": 0.3})


def test_dependency_parameters_are_part_of_the_cache_key(run_copy, monkeypatch):
    correlate = counting(monkeypatch, "correlate")
    analyze(run_copy, "correlate", n_permutations=99)
    analyze(run_copy, "correlate", n_permutations=99)
    analyze(run_copy, "correlate", n_permutations=99, plateaus={"penalty": 3.0})
    assert len(correlate) == 2


def test_a_new_version_invalidates_only_what_reads_it(run_copy, monkeypatch):
    plateaus = counting(monkeypatch, "plateaus")
    analyze(run_copy, "plateaus")
    monkeypatch.setitem(registry.REGISTRY, "hessian", dataclasses.replace(registry.get("hessian"), version="new"))
    analyze(run_copy, "plateaus")
    assert len(plateaus) == 1  # bumping hessian keeps cached plateaus
    monkeypatch.setitem(registry.REGISTRY, "plateaus", dataclasses.replace(registry.get("plateaus"), version="new"))
    analyze(run_copy, "plateaus")
    assert len(plateaus) == 2


def test_an_undeclared_dependency_is_refused(run_copy, monkeypatch):
    spec = registry.get("plateaus")

    def sneaky(run, params, deps):
        return deps.get("spectrum")

    monkeypatch.setitem(registry.REGISTRY, "plateaus", dataclasses.replace(spec, compute=sneaky))
    with pytest.raises(RuntimeError, match="does not declare"):
        analyze(run_copy, "plateaus", use_cache=False)


def test_the_cli_passes_dependency_options(run_copy, monkeypatch):
    from typer.testing import CliRunner

    from analyzer.cli import app

    plateaus = counting(monkeypatch, "plateaus")
    result = CliRunner().invoke(app, ["correlate", str(run_copy), "--permutations", "99", "--plateaus-penalty", "2.5",
                                      "--no-cache", "--json"])
    assert result.exit_code == 0, result.output
    assert [p.penalty for p in plateaus] == [2.5]


def test_notebook_api(run_copy):
    import analyzer

    with analyzer.open_run(run_copy) as run:
        assert analyzer.plateaus(run, penalty=2, use_cache=False).segments is not None
        assert analyzer.analyze(run, "spectrum", use_cache=False).learning is not None
    assert analyzer.correlate([run_copy], n_permutations=99, use_cache=False).n_runs == 1
    with pytest.raises(AttributeError):
        analyzer.no_such_analysis


def test_an_analysis_that_needs_a_run_refuses_none():
    with pytest.raises(BadInputError, match="^plateaus needs a run file$"):
        analyze(None, "plateaus")
