"""The study's claims: one module each behind one registry; every claim honours the same contract; removing a claim
removes its verdicts, tests, section and JSON keys; study-level code stays out of the analyses."""

from __future__ import annotations

import ast
import json

import numpy as np
import pandas as pd
import pytest
from study_fakes import curvature, summary

from analyzer.core import registry
from analyzer.study import claims as claims_package
from analyzer.study.build import build_study
from analyzer.study.claims import BUILTIN, all_claims, get
from analyzer.study.claims.base import VERDICTS, Claim
from analyzer.study.collect import StudyOptions
from analyzer.study.report import render, to_json

OPTIONS = StudyOptions(hessian=True, n_permutations=99, n_resamples=200)
STEPS = np.array([0, 10, 30, 100, 300, 1000, 3000, 9000], dtype=float)
TOLERANCES = ("index_fraction_tol_1e-08", "index_fraction_tol_1e-06", "index_fraction_tol_0.0001")
from helpers import REPO as ROOT


def _run(rng, group: str, seed: int):
    """A network run with a plateau, jumps near its escape, a Hessian (checkpoints and grid) and two escapes."""
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
                            "control_overlap_random": 0.3, "overlap_negative_norm": (overlap + 0.1) / 0.3,
                            "control_overlap_negative_norm": overlap / 0.3, "overlap_top_norm": 0.1 / 0.3,
                            "control_overlap_top_norm": 0.1 / 0.3, "control_kind": "drop+span",
                            "jump_freq": [1.0, 3.0], "negative_freq": 1.0,
                            "freq_matches_jump": [True, False], "lambda_min": [-0.01, -0.02],
                            "plateau_start": [0.0, 0.0], "plateau_end": [escape, 2 * escape]})
    plateaus = pd.DataFrame({"start_step": [0.0], "end_step": [escape], "duration": [escape]})
    # two escapes at their own times (no common clock explains both) and a jump at each
    second = escape * float(10 ** rng.uniform(0.3, 1.0))
    return summary(f"{group}-s{seed}", [escape * 1.05, second * 1.05], [escape, second], preset=group, seed=seed,
                   learned=(escape, 3 * escape), plateaus=plateaus, jump_modes=[1.0, 3.0],
                   decoupled={1.0: np.array([escape * 1.3]), 3.0: np.array([escape * 2.5])},
                   curvature=curvature(grid, rows, plateaus), escape_table=escapes,
                   config={"lr": 0.01, "optimizer": "sgd"})


def _outcomes():
    rng = np.random.default_rng(0)
    return [_run(rng, group, seed) for group in ("a", "b") for seed in range(5)]


@pytest.fixture(autouse=True)
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture(scope="module")
def study():
    return build_study(_outcomes(), OPTIONS)


def test_every_listed_claim_is_a_module_of_its_own_name():
    assert [claim.id for claim in all_claims()] == list(BUILTIN)
    files = {p.stem for p in (ROOT / "analyzer" / "study" / "claims").glob("*.py")}
    assert set(BUILTIN) <= files
    for name in BUILTIN:
        assert isinstance(get(name), Claim) and get(name).observation and get(name).rule
    with pytest.raises(KeyError, match="unknown claim"):
        get("no_such_claim")


@pytest.mark.parametrize("claim_id", BUILTIN)
def test_every_claim_honours_the_contract(study, claim_id):
    claim = get(claim_id)
    result = study.results[claim_id]
    rows = claim.tests(study, result)
    assert all(row.claim == claim_id for row in rows)
    verdicts = claim.verdicts(study, result)
    assert verdicts, f"{claim_id} gives no verdict on a study that has what it needs"
    assert all(v.claim == claim_id and v.verdict in VERDICTS and v.rule and v.evidence for v in verdicts)
    figs: dict = {}
    lines = claim.section(study, result, figs)
    assert all(isinstance(line, str) for line in lines)
    assert not lines or lines[0].startswith("## ")
    json.dumps(to_json(study), allow_nan=False)  # strict JSON with every claim in


def test_the_family_has_one_primary_first_and_every_verdict_names_its_claim(study):
    assert sum(row.primary for row in study.family) == 1 and study.family[0].primary
    assert study.family[0].claim == "jumps_near_escapes"
    payload = to_json(study)
    assert {v["claim"] for v in payload["verdicts"]} == set(BUILTIN)
    assert all(set(v) == {"claim", "observation", "verdict", "rule"} for v in payload["verdicts"])
    assert all(row["p_adjusted"] is None or row["p_adjusted"] >= row["p_value"] for row in payload["test_family"])


@pytest.mark.parametrize("claim_id", ["saddles", "escape_directions", "decoupled", "stall"])
def test_removing_a_claim_removes_its_tests_verdicts_section_and_keys(claim_id, monkeypatch):
    full = build_study(_outcomes(), OPTIONS)
    keys = set(get(claim_id).json(full, full.results[claim_id]))
    headings = [line for line in get(claim_id).section(full, full.results[claim_id], {}) if line.startswith("#")]
    monkeypatch.setattr(claims_package, "BUILTIN", tuple(n for n in BUILTIN if n != claim_id))
    reduced = build_study(_outcomes(), OPTIONS)
    assert claim_id not in reduced.results
    assert not any(row.claim == claim_id for row in reduced.family)
    assert not any(v.claim == claim_id for v in reduced.verdicts)
    markdown, payload = render(reduced).markdown, to_json(reduced)
    assert not any(line in markdown.splitlines() for line in headings)
    assert not (keys - {"quantities", "tests"}) & set(payload)


def test_no_analysis_imports_the_study():
    """Study-level code lives in analyzer/study/: no module under analyzer/analyses/ imports it, at any depth."""
    found = []
    for path in sorted((ROOT / "analyzer" / "analyses").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.startswith("analyzer.study")]
    assert found == []


def test_outside_the_claims_the_study_names_no_analysis():
    """Only claims name the analyses they read; the study's machinery reads claims."""
    found = []
    for path in sorted((ROOT / "analyzer" / "study").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in registry.names():
                found.append(f"{path.name} {node.value!r}")
    assert found == ["collect.py 'harmonics'"]  # the target kind of a harmonics run's group, not the analysis


def test_curvature_jobs_skip_replicates():
    from types import SimpleNamespace

    from analyzer.study.collect import study_jobs

    jobs = study_jobs(["a.h5"], OPTIONS)
    curvature_jobs = [job for job in jobs if job.name in ("hessian", "escape")]
    assert curvature_jobs and all(job.only_if is not None for job in curvature_jobs)
    assert all(job.only_if(SimpleNamespace(config={"perturb": 0.0})) for job in curvature_jobs)
    assert not any(job.only_if(SimpleNamespace(config={"perturb": 1e-7})) for job in curvature_jobs)
    assert len({(j.name, tuple(sorted(j.overrides.items()))) for j in jobs}) == len(jobs)  # each job once


def _twin(rng, group: str, seed: int, index: float = 0.0):
    """The twin of _run's network: jumps placed at random, an index-0 Hessian."""
    run = _run(rng, group, seed)
    escape, second = run.extract("jumps_near_escapes").references
    away = rng.choice((-1.0, 1.0), 2) * rng.uniform(0.3, 0.8, 2)  # decades off its escapes, either way
    jumps = np.array([escape, second]) * 10 ** away
    grid = run.extract("saddles").grid.assign(index_fraction=index, index_kind="certified")
    plateaus = run.extract("plateaus_appear").plateaus
    return summary(f"{group}-s{seed}-twin", jumps, [escape, second], preset=group, seed=seed,
                   learned=(escape, 3 * escape),
                   plateaus=plateaus, jump_modes=[1.0, 3.0], curvature=curvature(grid, None, plateaus),
                   config={"lr": 0.01, "optimizer": "sgd", "linearize": True})


def test_the_curves_reference_is_each_run_against_the_other_runs_references():
    """Brute force: each receiver's summed distance averaged over the other runs of its group with references, pooled
    over the jumps; a run alone with references in its group counts at its own distance (no effect)."""
    from analyzer.study.claims.specifications import shared_swap_draws

    rng = np.random.default_rng(4)
    groups = ["a"] * 4 + ["b"] * 2
    runs = [(np.sort(rng.uniform(1, 9999, 3)), np.sort(rng.uniform(1, 9999, 2))) for _ in range(6)]
    runs[1] = (runs[1][0], np.empty(0))  # no references: neither a donor nor a receiver
    runs[5] = (runs[5][0], np.empty(0))  # group b: run 4 alone has references

    def distance(jumps, refs):
        return float(np.abs(np.log10(jumps + 1)[:, None] - np.log10(refs + 1)[None, :]).min(axis=1).sum())

    total = jumps = 0.0
    for i, (own_jumps, own_refs) in enumerate(runs):
        others = [k for k in range(6) if k != i and groups[k] == groups[i] and len(runs[k][1])]
        if len(own_refs):
            total += np.mean([distance(own_jumps, runs[k][1]) for k in others]) if others else distance(own_jumps,
                                                                                                        own_refs)
            jumps += len(own_jumps)
    observed, null, reference = shared_swap_draws([runs], groups, 9, 0)
    assert reference[0] == pytest.approx(total / jumps, rel=1e-12) and null.shape == (9, 1)
    assert observed[0] == pytest.approx(sum(distance(j, r) for j, r in runs if len(r)) / jumps, rel=1e-12)


def test_the_twin_contrast_pairs_each_network_with_its_twin_and_checks_the_twins_index():
    rng = np.random.default_rng(5)
    networks = [_run(rng, group, seed) for group in ("a", "b") for seed in range(8)]
    twins = [_twin(rng, group, seed) for group in ("a", "b") for seed in range(8)]
    study = build_study(networks + twins, OPTIONS)
    assert len(study.network_runs) == 16 and len(study.twin_runs) == 16 and set(study.groups) == {"a", "b"}
    assert not any(r.role == "twin" for r, _ in study.extracts("jumps_near_escapes"))  # twins stay out of claims
    contrasts = study.results["twin_contrast"]["contrasts"]
    primary = contrasts["jumps_near_escapes"]
    assert primary["n_pairs"] == 16 and primary["difference"] > 0  # networks' jumps closer than their twins'
    row = study.family_row(primary["name"])
    assert row.claim == "twin_contrast" and row.p_value <= 0.02  # 99 sign-flip draws
    verdicts = {v.observation: v.verdict for v in study.verdicts if v.claim == "twin_contrast"}
    assert verdicts["The pipeline sees no saddle in the twins (their loss is convex)"] == "holds"
    assert any(o.startswith("Frequency jumps occur near escapes") and v == "holds" for o, v in verdicts.items())
    broken = build_study(networks + [_twin(rng, "a", 0, index=0.01)] + twins[1:], OPTIONS)
    check = [v for v in broken.verdicts if v.observation.startswith("The pipeline sees no saddle")]
    assert check[0].verdict == "does not hold"
    alone = build_study(networks, OPTIONS)
    assert [v.verdict for v in alone.verdicts if v.claim == "twin_contrast"] == ["untested"]
