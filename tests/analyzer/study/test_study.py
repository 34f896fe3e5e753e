"""`analyze study` end to end on tiny real runs: Dask workers, caching, JSON, report, damaged and bad input."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from helpers import small_config
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import BadInputError
from analyzer.study.build import build_study
from analyzer.study.collect import RunSummary, StudyOptions, collect_paths, summarize_run
from analyzer.study.groups import group_names, group_runs
from analyzer.study.report import render, to_json
from trainer.config import PRESETS, TrainConfig
from trainer.engines.loop import train

runner = CliRunner()
FAST = ["--workers", "2", "--permutations", "199", "--resamples", "500"]


def _replicate(path, seed_of_base: int, perturb_seed: int, stand_in_seed: int) -> None:
    """A float-rounding replicate of `seed_of_base`; simulated where the trainer has no perturb option yet."""
    if "perturb" in {f.name for f in dataclasses.fields(TrainConfig)}:
        train(small_config(epochs=300, seed=seed_of_base, perturb=1e-7, perturb_seed=perturb_seed), path)
        return
    train(small_config(epochs=300, seed=stand_in_seed), path)  # a different init stands in for the perturbed one
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["config"])
        f.attrs["config"] = json.dumps({**config, "seed": seed_of_base, "perturb": 1e-7, "perturb_seed": perturb_seed})


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory):
    """3 baseline seeds, 2 diag-linear seeds (real plateaus), 2 rounding replicates of baseline seed 0."""
    folder = tmp_path_factory.mktemp("study")
    for seed in range(3):
        train(small_config(epochs=300, seed=seed), folder / f"baseline-s{seed}.h5")
    for seed in range(2):
        train(dataclasses.replace(PRESETS["diag-linear"], seed=seed, epochs=600), folder / f"diag-linear-s{seed}.h5")
    for k in (1, 2):
        _replicate(folder / f"baseline-s0-p{k}.h5", 0, k, stand_in_seed=100 + k)
    return folder


@pytest.fixture
def study_copy(study_dir, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(study_dir, copy, ignore=shutil.ignore_patterns("*.analysis.h5"))
    return copy


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _study(paths, **options):
    options = StudyOptions(n_permutations=199, n_resamples=500, **options)
    return build_study([summarize_run(str(p), options) for p in paths], options)


# ---- input and grouping --------------------------------------------------------------------------------


def test_collect_paths_from_folders_globs_and_files(study_dir, tmp_path):
    (study_dir / "baseline-s0.analysis.h5").touch()
    from_folder = collect_paths([study_dir])
    assert len(from_folder) == 7 and not any(p.name.endswith(".analysis.h5") for p in from_folder)
    assert [p.name for p in collect_paths([str(study_dir / "diag-*.h5")])] == ["diag-linear-s0.h5", "diag-linear-s1.h5"]
    assert len(collect_paths([study_dir / "baseline-s1.h5", study_dir])) == 7  # no run twice
    (tmp_path / "empty").mkdir()
    for bad, message in ((tmp_path / "empty", "no run files"), (tmp_path / "nope.h5", "no such file"),
                         (str(tmp_path / "*.h5"), "no run files match")):
        with pytest.raises(BadInputError, match=message):
            collect_paths([bad])
    (study_dir / "baseline-s0.analysis.h5").unlink()


def _summary(path: str, **config) -> RunSummary:
    empty = np.empty(0)
    return RunSummary(path=path, config=config, status="complete", n_steps=100, loss_steps=empty, loss=empty)


def test_groups_are_presets_plus_the_fields_that_vary_besides_seed_and_perturbation():
    runs = [_summary("a", preset="baseline", lr=0.01, seed=0, model={"width": 50}),
            _summary("b", preset="baseline", lr=0.001, seed=1, model={"width": 50}),
            _summary("c", preset="baseline", lr=0.01, seed=0, perturb=1e-7, perturb_seed=3, model={"width": 50}),
            _summary("d", preset="deep", lr=0.01, seed=0, model={"width": 50}),
            _summary("e", preset="deep", lr=0.01, seed=1, model={"width": 20})]
    assert group_names(runs) == {"a": "baseline lr=0.01", "b": "baseline lr=0.001", "c": "baseline lr=0.01",
                                 "d": "deep width=50", "e": "deep width=20"}


def test_a_research_loops_seeds_and_names_never_split_a_group():
    """Logged runs keep the user's config under `user`: its seed, run name and output path identify a run, not a
    condition; its other varying keys (width) form the groups."""
    model = {"constructor": "nets:Net", "constructor_kwargs": {"width": 64}}
    runs = [_summary(f"pe-s{s}", source="logger", model=model, optimizer="adam", lr=1e-3,
                     user={"seed": s, "run_name": f"pe-s{s}", "out_dir": f"/tmp/pe-s{s}", "width": w,
                           "timestamp": f"2026-12-0{s + 1}"})
            for s in range(4) for w in (64,)]
    names = group_names(runs)
    assert set(names.values()) == {"nets:Net"} and [r.seed for r in runs] == [0, 1, 2, 3]
    wider = runs + [_summary("pe-w-s0", source="logger", model=model, optimizer="adam", lr=1e-3,
                             user={"seed": 0, "run_name": "pe-w-s0", "width": 256})]
    grouping = group_runs(wider)
    assert set(grouping.group_of.values()) == {"nets:Net width=64", "nets:Net width=256"}
    assert grouping.keys == {"nets:Net": ["user.width"]} and "user.width" in grouping.describe()
    by_lr = group_runs(wider, ("lr",))
    assert set(by_lr.group_of.values()) == {"nets:Net lr=0.001"} and "--group-by" in by_lr.describe()
    with pytest.raises(BadInputError, match="no run's config has that key"):
        group_runs(wider, ("momentum",))


# ---- the study on real runs (in process: no cluster) ----------------------------------------------------


def _verdicts(study) -> dict[str, str]:
    return {v.observation: v.verdict for v in study.verdicts}


def test_study_statistics_on_real_runs(study_dir):
    study = _study(collect_paths([study_dir]), hessian=False)
    assert len(study.runs) == 7 and len(study.network_runs) == 5 and len(study.replicate_runs) == 2
    table = study.results["spectral_bias"]["table"]
    assert set(table.group) == {"baseline", "diag-linear"}
    assert (table.groupby("group").n.first() == pd.Series({"baseline": 3, "diag-linear": 2})).all()
    edges = study.family_row("jumps vs plateau edges")
    with_both = [r for r, e in study.extracts("jumps_near_edges") if len(e.references) and len(e.jumps)]
    assert edges.n_runs == len(with_both) and all(r.perturb == 0 for r in with_both)  # replicates left out
    floor = study.results["noise_floor"]["table"]
    assert not floor.empty and set(floor.group) == {"baseline"}
    assert floor.n_replicates.iloc[0] == 3  # two replicates plus the unperturbed seed-0 run
    claims = [v.claim for v in study.verdicts]
    assert claims[:8] == ["spectral_bias", "plateaus_appear", "stall", "jumps_near_escapes", "jumps_near_edges",
                          "decoupled", "decoupled", "noise_floor"]  # no Hessian: no saddle or escape verdict
    untested = {v.claim for v in study.verdicts[8:] if v.verdict == "untested"}
    assert untested == set(claims[8:]) >= {"twin_contrast", "kernel_drift_scaling"}  # no twins, no width sweep
    assert sum(row.primary for row in study.family) == 1 and study.family[0].primary


def test_runs_of_one_name_in_two_sweeps_stay_two_runs(study_dir, tmp_path):
    """Sweeps name their runs alike (`baseline-s0` in every folder): a study over two sweeps keeps them apart, as
    runs, as clusters of the tests and as rows of the tables (here: the same files twice, two groups)."""
    for folder, lr in (("sweep-a", 0.01), ("sweep-b", 0.02)):
        (tmp_path / folder).mkdir()
        for seed in range(3):
            target = tmp_path / folder / f"baseline-s{seed}.h5"
            shutil.copy(study_dir / f"baseline-s{seed}.h5", target)
            with h5py.File(target, "r+") as f:
                f.attrs["config"] = json.dumps({**json.loads(f.attrs["config"]), "lr": lr})
    study = _study(collect_paths([tmp_path / "sweep-a", tmp_path / "sweep-b"]), hessian=False)
    labels = [r.label for r in study.runs]
    assert len(set(labels)) == 6 and "sweep-a/baseline-s0" in labels and "sweep-b/baseline-s0" in labels
    table = study.results["spectral_bias"]["table"]
    assert sorted(table.groupby("group").n.first()) == [3, 3]
    assert sum(row.primary for row in study.family) == 1


def test_the_specification_curves_primary_row_is_the_primary_test(study_dir):
    """The curve's effects are measured as the family's are (against the other runs' references only, not
    attenuated by the draws that leave a run its own): its primary specification reads the primary's effect."""
    study = _study(collect_paths([study_dir]), hessian=False)
    primary = next(row for row in study.family if row.primary)
    rows = study.results["jumps_near_escapes"]["curve"]["rows"]
    curve_primary = next(row for row in rows if row["primary"])
    assert primary.effect is not None and curve_primary["effect"] == pytest.approx(primary.effect, abs=1e-9)


def test_report_structure_and_plain_words(study_dir):
    study = _study(collect_paths([study_dir]), hessian=False)
    report = render(study, title="tiny")
    headings = [line for line in report.markdown.splitlines() if line.startswith("#")]
    assert headings == ["# tiny", "## Claims and verdicts", "## Runs", "## Spectral bias: learned step per frequency",
                        "### Learning order", "### Median-seed spectral heatmaps", "## Plateaus per run",
                        "## Primary test (named before the data)", "### Robustness: specification curve",
                        "## Jumps near plateau edges (secondary)", "## Mechanism vs identity: decoupled escapes",
                        "## Saddles", "## Noise floor: float rounding vs seeds vs groups", "## Test family",
                        "## Reproduce"]
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.markdown)
    assert sorted(links) == sorted(report.figures) == ["forest.png", "learned-steps.png", "loss-bands.png",
                                                        "median-heatmaps.png", "noise-floor.png",
                                                        "specification-curve.png"]
    for item in study.verdicts:
        assert f"**{item.observation}: {item.verdict}.**" in report.markdown
    assert "Hessian not computed" in report.markdown
    assert "times the seed-to-seed SD" in report.markdown


def test_verdicts_follow_the_statistics_not_a_script(study_dir):
    study = _study(collect_paths([str(study_dir / "diag-*.h5")]), hessian=False)
    design = ("Spectral bias: lower frequencies are learned first (amplitudes falling with frequency, Alvarez & Choe's "
              "design)")
    row = study.family_row("learning order, decreasing amplitudes: mean Kendall tau (two-sided)")
    assert row.effect == pytest.approx(1.0)  # diag-linear: every learned frequency in order
    assert _verdicts(study)[design] in ("holds", "not shown")  # two runs: the permutation p is coarse
    reversed_runs = [_with_extract(r, "spectral_bias", learned_steps=r.extract("spectral_bias").learned_steps[::-1])
                     for r in study.runs]
    flipped = build_study(reversed_runs, study.options)
    assert flipped.family_row("learning order, decreasing amplitudes: mean Kendall tau (two-sided)").effect == pytest.approx(-1.0)
    assert _verdicts(flipped)[design] != "holds"


def _with_extract(run, claim_id: str, **changes):
    extract = dataclasses.replace(run.extract(claim_id), **{k: np.asarray(v).copy() for k, v in changes.items()})
    return dataclasses.replace(run, extracts={**run.extracts, claim_id: extract})


def test_a_frequency_learned_and_lost_later_is_reported_as_such_not_as_out_of_order(study_dir):
    study = _study(collect_paths([str(study_dir / "diag-*.h5")]), hessian=False)
    first, second = study.runs
    learned = first.extract("spectral_bias").learned_steps
    assert np.isfinite(learned[0])
    # the lowest frequency reaches the threshold first but drifts back above it: no learned step
    lost = _with_extract(first, "spectral_bias", learned_steps=np.r_[np.nan, learned[1:]],
                         first_below_steps=np.r_[0.0, learned[1:]])
    changed = build_study([lost, second], study.options)
    ordering = changed.results["spectral_bias"]["ordering"]
    all_runs = ordering[ordering.group == "all"].iloc[0]
    # order is judged among the frequencies a run learns: the lost one is no evidence against it
    assert (all_runs.ordered, all_runs.ordered_reached, all_runs.runs) == (2, 2, 2)
    assert all_runs.unordered == ""
    table = changed.results["spectral_bias"]["table"]
    row = table[table["mode"] == first.extract("spectral_bias").modes[0]].iloc[0]
    assert (row.n_not_learned, row.n_reached_then_lost) == (1, 1)
    # a frequency never reached is not "lost"
    never = _with_extract(lost, "spectral_bias", first_below_steps=np.r_[np.nan, learned[1:]])
    row = build_study([never, second], study.options).results["spectral_bias"]["table"].iloc[0]
    assert (row.n_not_learned, row.n_reached_then_lost) == (1, 0)


def test_hessian_edges_and_middles_on_a_plateau_run(study_dir):
    study = _study([study_dir / "diag-linear-s0.h5"], hessian=True, null="shift")  # one run: nothing to swap with
    quantities = study.results["saddles"]["quantities"].set_index("quantity")
    assert quantities.loc["index at plateau middles", "n"] == 1
    assert quantities.loc["index at plateau middles", "mean"] >= 1  # the diag-linear plateaus are saddles
    saddles = next(v for v in study.verdicts if v.claim == "saddles")
    assert saddles.verdict == "untested" and "same step" in saddles.rule  # one run: no bootstrap control


# ---- the command (Dask LocalCluster with two workers) ----------------------------------------------------


def test_study_cli_json_report_cache_and_damaged_run(study_copy, tmp_path):
    (study_copy / "broken.h5").write_bytes((study_copy / "baseline-s1.h5").read_bytes()[:50_000])
    out = tmp_path / "report"
    result = runner.invoke(app, ["study", str(study_copy), "--json", "--no-hessian", "-o", str(out), *FAST])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n_runs"] == 7 and payload["n_replicate_runs"] == 2
    assert 0 < payload["p_value"] <= 1 and 0 < payload["p_value_edges"] <= 1
    assert {"preset", "mode", "mode_unit", "mean", "ci_low", "ci_high", "n", "n_not_learned"} \
        <= set(payload["table"][0])
    assert all(row["mode_unit"] == "Hz" and row["freq_hz"] == row["mode"] for row in payload["table"])  # old key kept
    assert all("mode_unit" in row and "freq_hz" in row for row in payload["noise_floor"]["differences"])
    assert len(payload["table"]) == 8 and "noise_floor" in payload
    assert [s["path"] for s in payload["skipped"]] == [str(study_copy / "broken.h5")]
    assert "broken.h5" in (out / "REPORT.md").read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "REPORT.md").read_text()):
        assert (out / link).is_file()
    assert (study_copy / "baseline-s0.analysis.h5").is_file()  # cached per run, beside the run
    again = runner.invoke(app, ["study", str(study_copy), "--json", "--no-hessian", *FAST])
    assert json.loads(again.stdout)["table"] == payload["table"]
    refused = runner.invoke(app, ["study", str(study_copy), "--no-hessian", "-o", str(out), *FAST])
    assert refused.exit_code == 2 and "already exists" in refused.output
    plain = runner.invoke(app, ["study", str(study_copy), "--no-hessian", *FAST], env={"COLUMNS": "80"})
    assert plain.exit_code == 0, plain.output  # the table summary printed without --json
    assert "learned step across seeds" in plain.output and "1 run(s) skipped" in " ".join(plain.output.split())


@pytest.mark.parametrize("case", ["empty-folder", "missing", "all-damaged", "bad-workers"])
def test_study_cli_bad_input_is_one_line_and_exit_2(study_dir, tmp_path, case):
    folder = tmp_path / "in"
    folder.mkdir()
    if case == "all-damaged":
        (folder / "a.h5").write_text("not hdf5")
    args = {"empty-folder": [str(folder)], "missing": [str(tmp_path / "nope")], "all-damaged": [str(folder)],
            "bad-workers": [str(study_dir / "baseline-s1.h5"), "--workers", "0"]}[case]
    result = runner.invoke(app, ["study", *args, "--no-hessian", "-o", str(tmp_path / "rep")])
    assert result.exit_code == 2, result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "rep").exists()


def test_to_json_is_strict_json(study_dir):
    study = _study(collect_paths([str(study_dir / "baseline-s[12].h5")]), hessian=False)
    text = json.dumps(to_json(study), allow_nan=False)
    assert "noise_floor" not in json.loads(text)  # no replicates among these inputs


def test_study_runs_on_an_existing_scheduler(study_dir, tmp_path):
    """A scheduler and a worker started as separate processes on 127.0.0.1; the study goes through --scheduler."""
    import subprocess
    import sys
    import time

    address_file = tmp_path / "scheduler.json"
    base = [sys.executable, "-m"]
    scheduler = subprocess.Popen([*base, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(address_file)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        worker = subprocess.Popen([*base, "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = runner.invoke(app, ["study", str(study_dir / "diag-linear-s0.h5"), str(study_dir / "baseline-s1.h5"),
                                     "--scheduler", address, "--no-hessian", "--json", *FAST[2:]])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["n_runs"] == 2
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_local_workers_keep_glibc_malloc_trimming_at_its_default():
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 made the Hessian 2x slower in workers; the local cluster unsets it."""
    import os

    from analyzer.core.parallel import cluster

    with cluster(workers=1) as client:
        environments = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")))
    assert list(environments.values()) == [(os.environ.get("MALLOC_TRIM_THRESHOLD_"), "1")]


@pytest.mark.slow
def test_summaries_without_the_cache_equal_those_through_it(study_copy):
    """--no-cache computes each run whole on a worker and writes no sidecar; the summaries are the same."""
    from analyzer.study.collect import StudyOptions, summarize_runs

    paths = collect_paths([study_copy])[:3]
    fresh = summarize_runs(paths, StudyOptions(hessian=False, use_cache=False, workers=2))
    assert not list(study_copy.glob("*.analysis.h5"))
    cached = summarize_runs(paths, StudyOptions(hessian=False, workers=2))
    assert [s.path for s in fresh] == [s.path for s in cached] == [str(p) for p in paths]
    for a, b in zip(fresh, cached):
        np.testing.assert_array_equal(a.extract("spectral_bias").learned_steps, b.extract("spectral_bias").learned_steps)
        np.testing.assert_array_equal(a.extract("jumps_near_escapes").jumps, b.extract("jumps_near_escapes").jumps)
        np.testing.assert_array_equal(a.extract("jumps_near_escapes").references,
                                      b.extract("jumps_near_escapes").references)
        assert set(a.extracts) == set(b.extracts)
