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
from analyzer.study.collect import RunSummary, StudyOptions, collect_paths, summarize_run
from analyzer.study.analysis import build_study, group_names
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
    return RunSummary(path=path, config=config, status="complete", n_steps=100, freqs_hz=empty, learned_steps=empty,
                      jump_steps=empty, jump_freqs_hz=empty, escape_steps=empty, edge_steps=empty,
                      first_pred_step=0, last_pred_step=99, plateaus=pd.DataFrame(),
                      loss_steps=empty, loss=empty)


def test_groups_are_presets_plus_the_fields_that_vary_besides_seed_and_perturbation():
    runs = [_summary("a", preset="baseline", lr=0.01, seed=0, model={"width": 50}),
            _summary("b", preset="baseline", lr=0.001, seed=1, model={"width": 50}),
            _summary("c", preset="baseline", lr=0.01, seed=0, perturb=1e-7, perturb_seed=3, model={"width": 50}),
            _summary("d", preset="deep", lr=0.01, seed=0, model={"width": 50}),
            _summary("e", preset="deep", lr=0.01, seed=1, model={"width": 20})]
    assert group_names(runs) == {"a": "baseline lr=0.01", "b": "baseline lr=0.001", "c": "baseline lr=0.01",
                                 "d": "deep width=50", "e": "deep width=20"}


# ---- the study on real runs (in process: no cluster) ----------------------------------------------------


def test_study_statistics_on_real_runs(study_dir):
    study = _study(collect_paths([study_dir]), hessian=False)
    assert len(study.runs) == 7 and len(study.seed_runs) == 5 and len(study.replicate_runs) == 2
    assert set(study.learned_table.group) == {"baseline", "diag-linear"}
    assert (study.learned_table.groupby("group").n.first() == pd.Series({"baseline": 3, "diag-linear": 2})).all()
    assert set(study.tests) == {"escapes", "edges"} and study.tests["edges"].n_runs_given == 5  # replicates left out
    assert study.tests["edges"].n_runs == sum(len(r.edge_steps) > 0 and len(r.jump_steps) > 0 for r in study.seed_runs)
    assert not study.noise_floor.empty and set(study.noise_floor.group) == {"baseline"}
    assert study.noise_floor.n_replicates.iloc[0] == 3  # two replicates plus the unperturbed seed-0 run
    assert [o["observation"].split(":")[0] for o in study.observations] == [
        "Spectral bias", "Plateaus appear in the loss curve", "Higher-frequency learning stalls during plateaus",
        "Frequency jumps occur near escapes from plateaus (the primary test)",
        "Frequency jumps occur near plateau edges (secondary)"]
    assert sum(row["primary"] for row in study.family) == 1 and study.family[0]["primary"]


def test_report_structure_and_plain_words(study_dir):
    study = _study(collect_paths([study_dir]), hessian=False)
    report = render(study, title="tiny")
    headings = [line for line in report.markdown.splitlines() if line.startswith("#")]
    assert headings == ["# tiny", "## Primary test (named before the data)", "## Seed 000's observations across seeds",
                        "## Runs", "## Learned step per frequency", "## Loss curves",
                        "## Plateaus and the Hessian at plateau edges vs middles",
                        "## Test family: jumps vs escapes, edges, decoupled plateaus; stall",
                        "## Robustness: specification curve", "## Noise floor: float rounding vs seeds vs presets",
                        "## Median-seed spectral heatmaps", "## Reproduce"]
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.markdown)
    assert sorted(links) == sorted(report.figures) == ["forest.png", "learned-steps.png", "loss-bands.png",
                                                        "median-heatmaps.png", "noise-floor.png",
                                                        "specification-curve.png"]
    for item in study.observations:
        assert f"**{item['observation']}: {item['verdict']}.**" in report.markdown
    assert "Hessian not computed" in report.markdown
    assert "times the seed-to-seed SD" in report.markdown


def test_verdicts_follow_the_statistics_not_a_script(study_dir):
    study = _study(collect_paths([str(study_dir / "diag-*.h5")]), hessian=False)
    first = {o["observation"]: o["verdict"] for o in study.observations}
    assert first["Spectral bias: lower frequencies are learned first"] == "holds"  # diag-linear: 1, 3, 7 Hz in order
    reversed_runs = [dataclasses.replace(r, learned_steps=r.learned_steps[::-1].copy()) for r in study.runs]
    flipped = build_study(reversed_runs, study.options)
    verdicts = {o["observation"]: o["verdict"] for o in flipped.observations}
    assert verdicts["Spectral bias: lower frequencies are learned first"] == "does not hold"
    assert "0 of 2 runs" in flipped.observations[0]["evidence"]


def test_a_frequency_learned_and_lost_later_is_reported_as_such_not_as_out_of_order(study_dir):
    study = _study(collect_paths([str(study_dir / "diag-*.h5")]), hessian=False)
    first, second = study.runs
    assert np.isfinite(first.learned_steps[0]) and len(first.first_below_steps) == len(first.learned_steps)
    # the lowest frequency reaches the threshold first but drifts back above it: no learned step
    lost = dataclasses.replace(first, learned_steps=np.r_[np.nan, first.learned_steps[1:]],
                               first_below_steps=np.r_[0.0, first.learned_steps[1:]])
    changed = build_study([lost, second], study.options)
    all_runs = changed.ordering[changed.ordering.group == "all"].iloc[0]
    # order is judged among the frequencies a run learns: the lost one is no evidence against it
    assert (all_runs.ordered, all_runs.ordered_reached, all_runs.runs) == (2, 2, 2)
    assert all_runs.unordered == ""
    row = changed.learned_table[changed.learned_table.freq_hz == first.freqs_hz[0]].iloc[0]
    assert (row.n_not_learned, row.n_reached_then_lost) == (1, 1)
    assert "2 of 2 runs" in changed.observations[0]["evidence"]
    # a frequency never reached is not "lost"
    never = dataclasses.replace(lost, first_below_steps=np.r_[np.nan, first.learned_steps[1:]])
    row = build_study([never, second], study.options).learned_table.iloc[0]
    assert (row.n_not_learned, row.n_reached_then_lost) == (1, 0)


def test_hessian_edges_and_middles_on_a_plateau_run(study_dir):
    study = _study([study_dir / "diag-linear-s0.h5"], hessian=True, null="shift")  # one run: nothing to swap with
    quantities = study.quantities.set_index("quantity")
    assert quantities.loc["index at plateau middles", "n"] == 1
    assert quantities.loc["index at plateau middles", "mean"] >= 1  # the diag-linear plateaus are saddles
    saddles = next(o for o in study.observations if o["observation"].startswith("Plateaus sit at saddles"))
    assert saddles["verdict"] == "untested" and "time-matched" in saddles["rule"]  # no control on this branch


# ---- the command (Dask LocalCluster with two workers) ----------------------------------------------------


def test_study_cli_json_report_cache_and_damaged_run(study_copy, tmp_path):
    (study_copy / "broken.h5").write_bytes((study_copy / "baseline-s1.h5").read_bytes()[:50_000])
    out = tmp_path / "report"
    result = runner.invoke(app, ["study", str(study_copy), "--json", "--no-hessian", "-o", str(out), *FAST])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n_runs"] == 7 and payload["n_replicate_runs"] == 2
    assert 0 < payload["p_value"] <= 1 and 0 < payload["p_value_edges"] <= 1
    assert {"preset", "freq_hz", "mean", "ci_low", "ci_high", "n", "n_not_learned"} <= set(payload["table"][0])
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
        np.testing.assert_array_equal(a.learned_steps, b.learned_steps)
        np.testing.assert_array_equal(a.jump_steps, b.jump_steps)
        pd.testing.assert_frame_equal(a.plateaus, b.plateaus)
