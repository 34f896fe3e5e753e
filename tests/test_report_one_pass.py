"""A warm-cache report opens each run file once and its sidecar cache once, whatever its sections read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import pytest
from helpers import small_config

from analyzer.report import ReportOptions, build_report
from trainer.engines.loop import train

FAST = {"hessian": {"at": "every", "every": 100}, "correlate": {"n_permutations": 199}}


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one-pass")
    paths = [folder / f"run{seed}.h5" for seed in range(4)]
    for seed, path in enumerate(paths):
        train(small_config("deep" if seed % 2 else "baseline", epochs=300, seed=seed), path)
    return paths


def test_a_warm_report_of_four_runs_opens_each_run_and_its_cache_once(four_runs, monkeypatch):
    options = ReportOptions(overrides=FAST, workers=1)
    cold = build_report(four_runs, options)  # fills the caches
    plt.close("all")
    opened: Counter = Counter()

    class CountingFile(h5py.File):
        def __init__(self, name, *args, **kwargs):
            opened[Path(name).name] += 1
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", CountingFile)
    warm = build_report(four_runs, options)
    plt.close("all")
    assert warm.markdown == cold.markdown and "## Comparison" in warm.markdown
    expected = {**{p.name: 1 for p in four_runs}, **{p.name[:-3] + ".analysis.h5": 1 for p in four_runs}}
    assert dict(opened) == expected
