"""The contract every registered analysis meets (as scikit-learn's estimator checks): a new analysis that breaks
it fails here without anyone writing a test for it.

Defaults construct; a bad value of each validated field raises BadInputError naming the field; compute runs
on a tiny run, twice to the same result, and leaves the run file as it was; the result round-trips through the
cache exactly; headline() and tables() render; the CLI command exists, --help works and --json parses; on a run
with constant loss, with one checkpoint, or with NaN rows in its loss log the command gives a result or a
one-line error; its report section, its comparison section and its pooled form render from the registry.

What differs between analyses is read from their declared `Tags` (which runs they apply to, whether they read
checkpoints, their fast parameters, their cost), never from a list of names here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import traceback

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import DEGENERATE, degenerate_run

from analyzer.cli import app
from analyzer.cli.generated import option_flag
from analyzer.core import registry
from analyzer.core.params import bad_value, spec_of
from analyzer.core.runner import analyze
from analyzer.core.serialize import to_jsonable
from analyzer.errors import BadInputError

NAMES = registry.names()
RUN_NAMES = [n for n in NAMES if registry.get(n).needs_run]
TINY_RUN = {"any": "mlp.h5", "harmonics": "sphere.h5", "known-answer": "known.h5"}  # Tags.run_kind -> its tiny run
TIMING = ("seconds", "cost_gradients")  # measured durations: the only fields two computes may disagree on


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


@pytest.fixture(scope="module")
def degenerate_runs(tiny_runs, tmp_path_factory):
    """(tiny run, kind) -> that run made degenerate (helpers.degenerate_run), each written once on first use, under
    the tiny run's file name (results that name their run name it alike)."""
    folder, made = tmp_path_factory.mktemp("degenerate"), {}

    def degenerate(base: str, kind: str):
        if (base, kind) not in made:
            (folder / kind).mkdir(exist_ok=True)
            made[base, kind] = degenerate_run(tiny_runs / base, folder / kind / base, kind)
        return made[base, kind]

    return degenerate


def run_for(name: str, folder):
    return folder / TINY_RUN[registry.get(name).tags.run_kind]


def fast(name: str) -> dict:
    """The analysis's fast parameters (Tags.fast_params), as `analyze` keyword arguments."""
    return dict(registry.get(name).tags.fast_params)


def fast_options(name: str) -> list[str]:
    """The same parameters as options of `analyze <name>`."""
    fields = {f.name: f for f in dataclasses.fields(registry.get(name).params)}
    options = []
    for field, value in fast(name).items():
        flag = option_flag(fields[field])
        if isinstance(value, bool):
            options.append(flag if value else f"--no-{flag[2:]}")
        else:
            options += [flag, ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)]
    return options


def digest(path) -> tuple:
    """The run file's content hash and modification time."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def json_of(result) -> str:
    """The result's JSON (as `--json` prints it) with the timing fields left out."""
    def drop(value):
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if k not in TIMING}
        return [drop(v) for v in value] if isinstance(value, list) else value

    return json.dumps(drop(to_jsonable(result)), sort_keys=True, allow_nan=False)


def validated_fields(name: str) -> list[str]:
    return [f.name for f in dataclasses.fields(registry.get(name).params) if spec_of(f).validated]


def equal(a, b) -> bool:
    """Exact equality of result fields, NaN equal to NaN; timing columns excepted."""
    if isinstance(b, pd.DataFrame):
        timing = [c for c in b.columns if c in TIMING]
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
    registry.make_params(analysis, **fast(name))  # the fast parameters are valid parameters
    heavy = analysis.tags.cost == "heavy"
    assert heavy == (analysis.hooks.estimate is not None), "a heavy analysis, and only one, plans its cost up front"
    assert analysis.hooks.pool is None or analysis.needs_run


def test_a_declared_analysis_loads_on_first_use_under_its_own_name(monkeypatch):
    """The registry knows only what a package declared (registry.declare); it loads each on first use."""
    stand_in = dataclasses.replace(registry.get("plateaus"), name="stand-in")
    loads = []
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    monkeypatch.setattr(registry, "_declared", dict(registry._declared))
    monkeypatch.setattr(registry, "_loaded", registry._loaded)  # each restored after the test
    registry.declare(["stand-in"], lambda name: loads.append(name) or stand_in)
    assert loads == [] and registry.names()[-1] == "stand-in" and registry.get("stand-in") is stand_in
    assert loads == ["stand-in"]
    registry.declare(["misnamed"], lambda name: stand_in)
    with pytest.raises(RuntimeError, match="declared as 'misnamed' registers 'stand-in'"):
        registry.names()


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
def test_compute_is_deterministic_round_trips_the_cache_and_renders(name, tiny_runs, tmp_path):
    run = run_for(name, tiny_runs)
    before = digest(run)
    cache = tmp_path / "cache.analysis.h5"
    computed = analyze(run, name, cache=cache, **fast(name))
    loaded = analyze(run, name, cache=cache, **fast(name))
    fresh = analyze(run, name, use_cache=False, **fast(name))
    assert digest(run) == before, "computing an analysis modified the run file"
    assert type(computed) is registry.get(name).result is type(loaded)
    for field in dataclasses.fields(fresh):
        assert equal(getattr(computed, field.name), getattr(fresh, field.name)), f"two computes differ in {field.name}"
        assert equal(getattr(loaded, field.name), getattr(fresh, field.name)), field.name
    assert json_of(computed) == json_of(fresh) == json_of(loaded)
    assert isinstance(loaded.headline(), str) and loaded.headline()
    tables = loaded.tables()
    assert isinstance(tables, dict) and all(isinstance(t, pd.DataFrame) for t in tables.values())


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).hooks.split is not None])
def test_a_split_analysis_combined_from_its_parts_equals_compute(name, tiny_runs):
    """Analyses that divide into parts for several workers (Hooks.split) must give compute's result."""
    from analyzer.core.runner import resolver_for
    from analyzer.io.run import open_run

    split = registry.get(name).hooks.split
    with open_run(run_for(name, tiny_runs)) as run:
        resolver, params = resolver_for(run, name, use_cache=False, **fast(name))
        pieces, context = split.plan(run, params, resolver.deps_for(name))
        assert len(pieces) >= 2, "the tiny run should give several parts"
        combined = split.combine(run, params, context, [split.part(run, params, piece) for piece in reversed(pieces)][::-1])
        fresh = analyze(run, name, use_cache=False, **fast(name))
    for field in dataclasses.fields(fresh):
        assert equal(getattr(combined, field.name), getattr(fresh, field.name)), field.name


@pytest.mark.parametrize("name", NAMES)
def test_the_cli_command_exists_and_its_json_parses(name, tiny_runs, tmp_path):
    runner = CliRunner()
    helped = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
    assert helped.exit_code == 0 and "--json" in helped.output
    run = tmp_path / "run.h5"
    run.write_bytes(run_for(name, tiny_runs).read_bytes())
    before = digest(run)
    run_argument = [str(run)] if registry.get(name).needs_run else []  # a run-less command takes no RUN
    result = runner.invoke(app, [name, *run_argument, "--json", *fast_options(name)])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert digest(run) == before, "the command modified the run file"


@pytest.mark.parametrize("name", [n for n in RUN_NAMES if registry.get(n).tags.run_kind != "any"])
def test_an_analysis_of_one_kind_of_run_refuses_another(name, tiny_runs):
    """Tags.run_kind is what the analysis checks: another kind of run gets a BadInputError (a one-line error)."""
    with pytest.raises(BadInputError):
        analyze(tiny_runs / TINY_RUN["any"], name, use_cache=False, **fast(name))


@pytest.mark.parametrize("kind", DEGENERATE)
@pytest.mark.parametrize("name", RUN_NAMES)
def test_a_degenerate_run_gives_a_result_or_a_one_line_error(name, kind, tiny_runs, degenerate_runs):
    """Constant loss, one checkpoint, NaN rows in the loss log: `analyze <name>` prints a result or exits with one
    `error:` line (never a traceback), and leaves the run file as it was."""
    run = degenerate_runs(TINY_RUN[registry.get(name).tags.run_kind], kind)
    before = digest(run)
    result = CliRunner().invoke(app, [name, str(run), "--json", "--no-cache", *fast_options(name)])
    assert digest(run) == before, "the command modified the run file"
    if result.exit_code == 0:
        json.loads(result.stdout)
    else:
        assert isinstance(result.exception, SystemExit), "".join(traceback.format_exception(result.exception))
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code in (1, 2) and len(errors) == 1 and "Traceback" not in result.output, result.output
    if registry.get(name).tags.reads == "log" and kind == "one-checkpoint":  # it reads no checkpoint: same result
        assert result.exit_code == 0, result.output
        whole = analyze(run_for(name, tiny_runs), name, use_cache=False, **fast(name))
        assert json_of(whole) == json.dumps(json.loads(result.stdout), sort_keys=True)


@pytest.mark.parametrize("name", NAMES)
def test_every_field_and_every_dependency_field_is_an_option(name):
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "300"})
    analysis = registry.get(name)
    flags = [option_flag(f) for f in dataclasses.fields(analysis.params)]
    for dep in registry.dependency_closure(name):
        flags += [option_flag(f, f"{dep}-") for f in dataclasses.fields(registry.get(dep).params)]
    missing = [flag for flag in flags if flag not in result.output]
    assert not missing, missing


@pytest.mark.parametrize("name", [n for n in NAMES if not registry.get(n).needs_run])
def test_an_analysis_that_needs_no_run_computes_without_one(name, tiny_runs):
    without = analyze(None, name, **fast(name))
    with_run = analyze(run_for(name, tiny_runs), name, use_cache=False, **fast(name))
    for field in dataclasses.fields(without):
        assert equal(getattr(without, field.name), getattr(with_run, field.name)), field.name


def holders(name: str, paths, opened) -> list:
    """RunAnalyses of `name` and of everything it reads, on open runs, as the report builds them (each run's results
    through one resolver, so that a dependency is computed once)."""
    from analyzer.core.runner import resolver_for
    from analyzer.sections.run_analyses import RunAnalyses

    holders = []
    for path, r in zip(paths, opened):
        resolver, params = resolver_for(r.run, name, use_cache=False, **fast(name))
        results = {name: resolver.result(name, params)}
        results |= {n: resolver.result(n, resolver.params_for(n)) for n in registry.dependency_closure(name)}
        holders.append(RunAnalyses(r.label, path, r.run.fingerprint, r.run.status, r.run.n_steps, r.run.config,
                                   r.run.target, results, {}, run=r.run))
    return holders


@pytest.mark.parametrize("name", RUN_NAMES)
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


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).hooks.compare is not None])
def test_the_comparison_and_the_pool_render_from_the_registry(name, tiny_runs, tmp_path):
    from analyzer.report.runs import Pooled, opened_runs

    copy = tmp_path / "other.h5"
    copy.write_bytes(run_for(name, tiny_runs).read_bytes())
    paths = [run_for(name, tiny_runs), copy]
    compare, figs = registry.get(name).hooks.compare, {}
    with opened_runs(paths, use_cache=False) as opened:
        runs = holders(name, paths, opened)
        pooled = Pooled(name, opened, fast(name), use_cache=False)
        lines = (compare.tables(runs, pooled) if compare.tables else []) + (
            compare.figures(runs, figs) if compare.figures else [])
    assert any(line.startswith("### ") for line in lines) or figs
    assert all(isinstance(line, str) for line in lines) and all(f"]({figure})" in "\n".join(lines) for figure in figs)


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).hooks.pool is not None])
def test_the_pool_of_one_run_is_the_analysis_of_that_run(name, tiny_runs, tmp_path):
    from analyzer.core.runner import analyze_pooled

    run = run_for(name, tiny_runs)
    single = analyze(run, name, use_cache=False, **fast(name))
    pooled = analyze_pooled([run], name, use_cache=False, **fast(name))
    for field in dataclasses.fields(single):
        assert equal(getattr(pooled, field.name), getattr(single, field.name)), field.name
    copy = tmp_path / "other.h5"
    copy.write_bytes(run.read_bytes())
    assert type(analyze_pooled([run, copy], name, use_cache=False, **fast(name))) is registry.get(name).result
