"""A warm-cache study opens each run file once and its sidecar cache once in each process: on the worker that
runs the run's jobs, and in the caller for the run's summary and the report's figures (the median seeds'
heatmaps). The worker runs in-process here (threads), so one counter sees both sides."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import pytest
from helpers import small_config

from analyzer.study.build import run_study
from analyzer.study.collect import StudyOptions
from analyzer.study.files import RunFiles
from analyzer.study.report import render, to_json
from trainer.engines.loop import train


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study-one-pass")
    for preset in ("baseline", "deep"):
        for seed in range(2):
            train(small_config(preset, epochs=300, seed=seed), folder / f"{preset}-s{seed}.h5")
    return folder


def _study(folder: Path, scheduler: str):
    options = StudyOptions(n_permutations=199, n_resamples=500, scheduler=scheduler)
    with RunFiles(options.use_cache) as files:
        study = run_study([str(folder)], options, files=files)
        markdown = render(study, title="one pass", command="analyze study").markdown
    plt.close("all")
    return to_json(study), markdown


def test_a_warm_study_opens_each_run_and_its_cache_once_per_process(four_runs, monkeypatch):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        cold = _study(four_runs, cluster.scheduler_address)  # fills the caches
        opened: Counter = Counter()

        class CountingFile(h5py.File):
            def __init__(self, name, *args, **kwargs):
                side = "caller" if threading.current_thread() is threading.main_thread() else "worker"
                opened[side, Path(name).name] += 1
                super().__init__(name, *args, **kwargs)

        monkeypatch.setattr(h5py, "File", CountingFile)
        warm = _study(four_runs, cluster.scheduler_address)
    assert warm == cold and "## Median-seed spectral heatmaps" in warm[1]
    runs = sorted(four_runs.glob("*-s?.h5"))
    once = {name: 1 for path in runs for name in (path.name, path.name[:-3] + ".analysis.h5")}
    assert {name: n for (side, name), n in opened.items() if side == "caller"} == once
    assert {name: n for (side, name), n in opened.items() if side == "worker"} == once
