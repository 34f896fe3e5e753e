"""The study's one wiring: each analysis's part of `analyze study` (StudyHooks on its registry record) renders its
section and its JSON keys, and removing the hook removes them; analyzer/study/ names no analysis."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analyzer.core import registry
from analyzer.study.analysis import build_study
from analyzer.study.collect import RunSummary, StudyOptions
from analyzer.study.report import render, to_json

OPTIONS = StudyOptions(hessian=True, n_permutations=99, n_resamples=200)
STEPS = np.array([0, 10, 30, 100, 300, 1000, 3000, 9000], dtype=float)
TOLERANCES = ("index_fraction_tol_1e-08", "index_fraction_tol_1e-06", "index_fraction_tol_0.0001")


def _summary(rng, group: str, seed: int) -> RunSummary:
    """A seed run with a plateau, jumps near its escape, a Hessian (checkpoints and grid) and two escapes."""
    escape = float(rng.choice([300.0, 1000.0]))
    value = 0.05 + 0.02 * (STEPS <= escape) + rng.normal(0, 0.005, len(STEPS))
    grid = pd.DataFrame({"step": STEPS, "index_fraction": value, "lambda_min": -value, "lambda_max": 1.0,
                         **{column: value for column in TOLERANCES}})
    rows = pd.DataFrame({"step": [0.0, escape / 2, escape], "role": ["start", "middle", "end"],
                         "index_count": [3.0, 2.0, 1.0], "index_low": [3.0, 2.0, 1.0], "index_high": [3.0, 2.0, 1.0],
                         "lambda_min": [-0.1, -0.05, -0.01]})
    overlap = rng.uniform(0.2, 0.8, 2)
    escapes = pd.DataFrame({"overlap_negative": overlap + 0.1, "overlap_top": 0.1, "overlap_random": 0.3,
                            "control_overlap_negative": overlap, "control_overlap_top": 0.1,
                            "control_overlap_random": 0.3, "jump_freq": 1.0, "negative_freq": 1.0,
                            "freq_matches_jump": True, "lambda_min": [-0.01, -0.02], "plateau_start": [0.0, 0.0],
                            "plateau_end": [escape, 2 * escape]})
    return RunSummary(path=f"/x/{group}-s{seed}.h5", config={"preset": group, "seed": seed, "lr": 0.01,
                                                              "optimizer": "sgd"},
                      status="complete", n_steps=10_000, freqs_hz=np.array([1.0, 3.0]),
                      learned_steps=np.array([escape, 3 * escape]), jump_steps=np.array([escape * 1.1, 3 * escape]),
                      jump_freqs_hz=np.array([1.0, 3.0]), escape_steps=np.array([escape]),
                      edge_steps=np.array([escape]), first_pred_step=0, last_pred_step=9_999,
                      plateaus=pd.DataFrame({"start_step": [0.0], "end_step": [escape], "duration": [escape]}),
                      loss_steps=STEPS.astype(np.int64), loss=np.linspace(1, 0.1, len(STEPS)),
                      parts={"hessian": {"rows": rows, "grid": grid}, "escape": escapes})


def _outcomes() -> list[RunSummary]:
    rng = np.random.default_rng(0)
    return [_summary(rng, group, seed) for group in ("a", "b") for seed in range(4)]


def _without(monkeypatch, name: str) -> None:
    registry.names()  # load the built-in analyses before replacing one
    monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(registry.get(name), study=None))


def _shown(name: str) -> list[str]:
    """The section lines and JSON keys of `name`'s hooks on the fake study, with every hook in place."""
    study = build_study(_outcomes(), OPTIONS)
    hooks = registry.get(name).study
    lines = hooks.section(study, {}) if hooks.section is not None else []
    keys = list(hooks.json(study)) if hooks.json is not None else []
    return [line for line in lines if line.startswith("#")], keys


SHOWING = [name for name, hooks in registry.study_hooks() if hooks.section is not None or hooks.json is not None]


def test_the_hooked_analyses_are_the_ones_the_study_reads():
    assert {name for name, _ in registry.study_hooks()} >= {"plateaus", "spectrum", "correlate", "hessian", "escape"}
    assert set(SHOWING) == {"hessian", "escape"}


@pytest.mark.parametrize("name", SHOWING)
def test_a_hook_renders_its_section_and_json_and_removing_it_removes_them(name, monkeypatch):
    headings, keys = _shown(name)
    assert headings and keys
    study = build_study(_outcomes(), OPTIONS)
    markdown, payload = render(study).markdown, to_json(study)
    assert all(line in markdown.splitlines() for line in headings)
    assert all(payload.get(key) is not None for key in keys)
    _without(monkeypatch, name)
    study = build_study(_outcomes(), OPTIONS)
    markdown, payload = render(study).markdown, to_json(study)
    assert not any(line in markdown.splitlines() for line in headings)
    assert not set(keys) & set(payload)
    assert name not in study.pooled


def test_the_saddle_hooks_add_family_rows_quantities_and_a_verdict(monkeypatch):
    study = build_study(_outcomes(), OPTIONS)
    names = [row["name"] for row in study.family]
    assert any("saddle control" in n for n in names) and any("escape directions" in n for n in names)
    assert "index at plateau middles" in set(study.quantities.quantity)
    assert study.observations[-1]["observation"] == "Plateaus sit at saddles"
    _without(monkeypatch, "hessian")
    study = build_study(_outcomes(), OPTIONS)
    assert not any("saddle control" in row["name"] for row in study.family)
    assert "index at plateau middles" not in set(study.quantities.quantity)
    assert all(o["observation"] != "Plateaus sit at saddles" for o in study.observations)


def test_the_spectrum_hook_draws_the_median_seeds_heatmaps(small_run, monkeypatch):
    import analyzer.study.analysis as analysis

    study = build_study(_outcomes(), dataclasses.replace(OPTIONS, hessian=False))
    monkeypatch.setattr(analysis, "median_runs", lambda s: {"a": SimpleNamespace(path=str(small_run), label="r")})
    report = render(study)
    assert "## Median-seed spectral heatmaps" in report.markdown and "median-heatmaps.png" in report.figures
    _without(monkeypatch, "spectrum")
    assert "## Median-seed spectral heatmaps" not in render(study).markdown


def test_curvature_jobs_come_from_the_hooks_and_skip_replicates():
    from analyzer.study.collect import study_jobs

    jobs = study_jobs(["a.h5"], OPTIONS)
    curvature = [job for job in jobs if job.name in ("hessian", "escape")]
    assert curvature and all(job.only_if is not None for job in curvature)
    assert all(job.only_if(SimpleNamespace(config={"perturb": 0.0})) for job in curvature)
    assert not any(job.only_if(SimpleNamespace(config={"perturb": 1e-7})) for job in curvature)
    assert not [job for job in study_jobs(["a.h5"], dataclasses.replace(OPTIONS, hessian=False))
                if job.name in ("hessian", "escape")]


def test_the_study_package_names_no_analysis():
    """No analysis name as a string in analyzer/study/ (the study reads them from the registry)."""
    found = []
    for path in sorted((Path(__file__).resolve().parent.parent / "analyzer" / "study").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in registry.names():
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert found == ["collect.py:83 'harmonics'"]  # a target kind (a harmonics run's group), not the analysis
