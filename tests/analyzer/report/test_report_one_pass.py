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


def test_sections_drawn_in_forked_children_open_nothing_and_give_the_same_files(four_runs, monkeypatch, tmp_path):
    """The default CLI path draws each run's sections in a forked child: same Markdown and the same PNG bytes as
    drawing here, and the children read through the inherited handles (opens are logged to a file, from any
    process)."""
    from analyzer.report import write_report

    build_report(four_runs, ReportOptions(overrides=FAST, workers=1))  # fills the caches
    here = build_report(four_runs, ReportOptions(overrides=FAST, workers=1))
    write_report(here, tmp_path / "here", processes=1)
    log = tmp_path / "opens.log"

    class LoggedFile(h5py.File):
        def __init__(self, name, *args, **kwargs):
            with open(log, "a") as out:
                out.write(f"{Path(name).name}\n")
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", LoggedFile)
    forked = build_report(four_runs, ReportOptions(overrides=FAST, workers=1, draw_processes=2))
    assert forked.markdown == here.markdown
    drawn = [name for name, fig in forked.figures.items() if isinstance(fig, bytes)]
    assert len(drawn) >= 4 * 3 and list(forked.figures) == list(here.figures)  # each run's figures, in order
    write_report(forked, tmp_path / "forked", processes=2)
    for name in here.figures:
        assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "here" / name).read_bytes(), name
    assert sorted(log.read_text().split()) == sorted([p.name for p in four_runs] +
                                                     [p.name[:-3] + ".analysis.h5" for p in four_runs])
