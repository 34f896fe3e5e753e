"""The contract every registered analysis meets (as scikit-learn's estimator checks): a new analysis that breaks
it fails here without anyone writing a test for it.

Defaults construct; a bad value of each validated field raises BadInputError naming the field; compute runs
on a tiny run; the result round-trips through the cache exactly; headline() and tables() render; the CLI
command exists, --help works and --json parses; its report section, its comparison section and its pooled form
render from the registry.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.core import registry
from analyzer.core.params import bad_value, spec_of
from analyzer.core.runner import analyze
from analyzer.errors import BadInputError

NAMES = registry.names()
# the fastest parameters that exercise each analysis on the tiny runs (the defaults where they are fast)
FAST = {"hessian": {"at": "steps", "steps": (0, 150)}, "correlate": {"n_permutations": 99}, "activations": {"n": 200}}
CLI_FAST = {"hessian": ["--steps", "0,150"], "correlate": ["--permutations", "99"], "activations": ["--n", "200"]}
KNOWN_ANSWER_ONLY = {"score"}  # analyses that refuse anything but a diag-linear run
SPHERE_ONLY = {"harmonics"}  # analyses that refuse anything but a run with a spherical-harmonic target


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A baseline-shaped run, a short known-answer run and a small run on the sphere, ~1 s each."""
    from helpers import small_config, sphere_config

    from trainer.config import PRESETS
    from trainer.engines.loop import train

    folder = tmp_path_factory.mktemp("contract")
    train(small_config(epochs=150), folder / "mlp.h5")
    train(dataclasses.replace(PRESETS["diag-linear"], epochs=300), folder / "known.h5")
    train(sphere_config(degrees=(1, 2), amps=(1.0, 1.0)), folder / "sphere.h5")
    return folder


def run_for(name: str, folder):
    return folder / ("known.h5" if name in KNOWN_ANSWER_ONLY else "sphere.h5" if name in SPHERE_ONLY else "mlp.h5")


def validated_fields(name: str) -> list[str]:
    return [f.name for f in dataclasses.fields(registry.get(name).params) if spec_of(f).validated]


def equal(a, b) -> bool:
    """Exact equality of result fields, NaN equal to NaN; timing columns excepted."""
    if isinstance(b, pd.DataFrame):
        timing = [c for c in b.columns if c in ("seconds", "cost_gradients")]
        pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing), check_exact=True)
        return True
    if isinstance(b, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=b.dtype.kind == "f")
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@pytest.mark.parametrize("name", NAMES)
def test_the_registry_entry_is_complete(name):
    analysis = registry.get(name)
    assert analysis.name == name and analysis.summary and analysis.version
    assert dataclasses.is_dataclass(analysis.params) and dataclasses.is_dataclass(analysis.result)
    assert set(analysis.requires) <= set(NAMES) and name not in registry.dependency_closure(name)
    for field in dataclasses.fields(analysis.params):
        assert spec_of(field).help, f"{name}.{field.name} has no help text (declare it with param(...))"


@pytest.mark.parametrize("name", NAMES)
def test_defaults_construct(name):
    params = registry.get(name).params()
    assert dataclasses.is_dataclass(params)


@pytest.mark.parametrize("name, field", [(n, f) for n in NAMES for f in validated_fields(n)])
def test_a_bad_value_names_the_field(name, field):
    analysis = registry.get(name)
    declared = next(f for f in dataclasses.fields(analysis.params) if f.name == field)
    value = bad_value(analysis.params, declared)
    with pytest.raises(BadInputError, match=rf"^{name}: {field} must be"):
        registry.make_params(analysis, **{field: value})


@pytest.mark.parametrize("name", NAMES)
def test_compute_cache_round_trip_and_rendering(name, tiny_runs, tmp_path):
    run = run_for(name, tiny_runs)
    cache = tmp_path / "cache.analysis.h5"
    computed = analyze(run, name, cache=cache, **FAST.get(name, {}))
    loaded = analyze(run, name, cache=cache, **FAST.get(name, {}))
    fresh = analyze(run, name, use_cache=False, **FAST.get(name, {}))
    assert type(computed) is registry.get(name).result is type(loaded)
    for field in dataclasses.fields(fresh):
        assert equal(getattr(loaded, field.name), getattr(fresh, field.name)), field.name
    assert isinstance(loaded.headline(), str) and loaded.headline()
    tables = loaded.tables()
    assert isinstance(tables, dict) and all(isinstance(t, pd.DataFrame) for t in tables.values())


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).split is not None])
def test_a_split_analysis_combined_from_its_parts_equals_compute(name, tiny_runs):
    """Analyses that divide into parts for several workers (Analysis.split) must give compute's result."""
    from analyzer.core.runner import resolver_for
    from analyzer.io.run import open_run

    split = registry.get(name).split
    with open_run(run_for(name, tiny_runs)) as run:
        resolver, params = resolver_for(run, name, use_cache=False, **FAST.get(name, {}))
        pieces, context = split.plan(run, params, resolver.deps_for(name))
        assert len(pieces) >= 2, "the tiny run should give several parts"
        combined = split.combine(run, params, context, [split.part(run, params, piece) for piece in reversed(pieces)][::-1])
        fresh = analyze(run, name, use_cache=False, **FAST.get(name, {}))
    for field in dataclasses.fields(fresh):
        assert equal(getattr(combined, field.name), getattr(fresh, field.name)), field.name


@pytest.mark.parametrize("name", NAMES)
def test_the_cli_command_exists_and_its_json_parses(name, tiny_runs, tmp_path):
    runner = CliRunner()
    helped = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
    assert helped.exit_code == 0 and "--json" in helped.output
    run = tmp_path / "run.h5"
    run.write_bytes(run_for(name, tiny_runs).read_bytes())
    run_argument = [str(run)] if registry.get(name).needs_run else []  # a run-less command takes no RUN
    result = runner.invoke(app, [name, *run_argument, "--json", *CLI_FAST.get(name, [])])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)


@pytest.mark.parametrize("name", NAMES)
def test_every_field_and_every_dependency_field_is_an_option(name):
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "300"})
    analysis = registry.get(name)
    flags = ["--" + (spec_of(f).cli or f.name.replace("_", "-")) for f in dataclasses.fields(analysis.params)]
    for dep in registry.dependency_closure(name):
        flags += [f"--{dep}-" + (spec_of(f).cli or f.name.replace("_", "-"))
                  for f in dataclasses.fields(registry.get(dep).params)]
    missing = [flag for flag in flags if flag not in result.output]
    assert not missing, missing


@pytest.mark.parametrize("name", [n for n in NAMES if not registry.get(n).needs_run])
def test_an_analysis_that_needs_no_run_computes_without_one(name, tiny_runs):
    without = analyze(None, name, **FAST.get(name, {}))
    with_run = analyze(run_for(name, tiny_runs), name, use_cache=False, **FAST.get(name, {}))
    for field in dataclasses.fields(without):
        assert equal(getattr(without, field.name), getattr(with_run, field.name)), field.name


def holders(name: str, paths, opened) -> list:
    """RunAnalyses of `name` and of everything it reads, on open runs, as the report builds them."""
    from analyzer.report.model import RunAnalyses

    wanted = [*registry.dependency_closure(name), name]
    return [RunAnalyses(r.label, path, r.run.fingerprint, r.run.status, r.run.n_steps, r.run.config, r.run.target,
                        {n: analyze(r.run, n, use_cache=False, **FAST.get(n, {})) for n in wanted}, {}, run=r.run)
            for path, r in zip(paths, opened)]


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).needs_run and n not in KNOWN_ANSWER_ONLY])
def test_the_report_section_renders_from_the_registry(name, tiny_runs):
    from analyzer.report.common import generic_section
    from analyzer.report.runs import opened_runs

    paths = [run_for(name, tiny_runs)]
    with opened_runs(paths, use_cache=False) as opened:
        (holder,) = holders(name, paths, opened)
        figs: dict = {}
        section = registry.get(name).section
        lines = section(holder, figs, "", 2) if section else generic_section(name, holder.results[name], 2)
    assert lines[0].startswith("## ") and all(isinstance(line, str) for line in lines)
    assert all(f"]({figure})" in "\n".join(lines) for figure in figs)


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).compare is not None])
def test_the_comparison_and_the_pool_render_from_the_registry(name, tiny_runs, tmp_path):
    from analyzer.report.runs import Pooled, opened_runs

    copy = tmp_path / "other.h5"
    copy.write_bytes(run_for(name, tiny_runs).read_bytes())
    paths = [run_for(name, tiny_runs), copy]
    compare, figs = registry.get(name).compare, {}
    with opened_runs(paths, use_cache=False) as opened:
        runs = holders(name, paths, opened)
        pooled = Pooled(name, opened, dict(FAST.get(name, {})), use_cache=False)
        lines = (compare.tables(runs, pooled) if compare.tables else []) + (
            compare.figures(runs, figs) if compare.figures else [])
    assert any(line.startswith("### ") for line in lines) or figs
    assert all(isinstance(line, str) for line in lines) and all(f"]({figure})" in "\n".join(lines) for figure in figs)


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).pool is not None])
def test_the_pool_of_one_run_is_the_analysis_of_that_run(name, tiny_runs, tmp_path):
    from analyzer.core.runner import analyze_pooled

    run = run_for(name, tiny_runs)
    single = analyze(run, name, use_cache=False, **FAST.get(name, {}))
    pooled = analyze_pooled([run], name, use_cache=False, **FAST.get(name, {}))
    for field in dataclasses.fields(single):
        assert equal(getattr(pooled, field.name), getattr(single, field.name)), field.name
    copy = tmp_path / "other.h5"
    copy.write_bytes(run.read_bytes())
    assert type(analyze_pooled([run, copy], name, use_cache=False, **FAST.get(name, {}))) is registry.get(name).result
