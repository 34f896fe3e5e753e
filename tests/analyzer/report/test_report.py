"""Reports: golden Markdown structure, figure functions, bad input, CLI via CliRunner."""

from __future__ import annotations

import re

import h5py
import matplotlib.pyplot as plt
import numpy as np
import pytest
from helpers import TESTS, small_config
from matplotlib.collections import QuadMesh
from typer.testing import CliRunner

from analyzer.analyses.hessian.figures import hessian_figure
from analyzer.analyses.plateaus.figures import loss_figure
from analyzer.analyses.spectrum.figures import (heatmap_grid_figure, heatmap_max_hz, rel_error_figure,
                                                 spectral_heatmap_figure)
from analyzer.sections import figures
from analyzer.core.runner import analyze
from analyzer.cli import app
from analyzer.errors import BadInputError
from analyzer.report import ReportOptions, build_report, markdown_table, write_report
from trainer.engines.loop import train

GOLDEN = TESTS / "golden"
FAST = {"hessian": {"at": "every", "every": 100}, "correlate": {"n_permutations": 199}}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-runs")
    paths = [folder / "alpha.h5", folder / "beta.h5"]
    train(small_config(epochs=300, seed=0), paths[0])
    train(small_config("deep", epochs=300, seed=1), paths[1])
    return paths


def structure(markdown: str) -> str:
    """The skeleton of a report: headings, image links and table header rows, without any numbers."""
    lines = markdown.splitlines()
    keep = []
    for i, line in enumerate(lines):
        is_header = i + 1 < len(lines) and lines[i + 1].startswith("|---")
        if line.startswith("#") or line.startswith("![") or is_header:
            keep.append(line)
    return "\n".join(keep) + "\n"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():  # first run writes the golden file; review it and commit it
        path.write_text(text)
    assert text == path.read_text()


def test_single_run_report_structure_is_golden(two_runs):
    report = build_report([two_runs[0]], ReportOptions(overrides=FAST))
    check_golden("report_single.txt", structure(report.markdown))
    correlate = report.markdown.split("Frequency jumps vs escapes from plateaus")[1].split("\n## ")[0]
    assert "one run: descriptive; `analyze study` tests across runs" in correlate  # a description, not a test
    assert "**" not in correlate and "p=" not in correlate and "p-value" not in correlate
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.markdown):
        assert link in report.figures
    assert set(report.figures) == {"loss.png", "spectrum.png", "rel_error.png", "hessian.png"}
    for fig in report.figures.values():
        plt.close(fig)


def test_multi_run_report_structure_is_golden(two_runs, tmp_path):
    report = build_report(two_runs, ReportOptions(overrides=FAST))
    check_golden("report_multi.txt", structure(report.markdown))
    assert "## Comparison" in report.markdown and "compare-heatmaps.png" in report.figures
    pooled = report.markdown.split("### Pooled correlation")[1].split("![")[0]
    assert "to loss-drop midpoints than chance" in pooled and "to plateau edges than chance" in pooled  # both tests
    assert pooled.index("loss-drop midpoints") < pooled.index("plateau edges")  # the default first
    written = write_report(report, tmp_path / "out")
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.markdown):
        assert (tmp_path / "out" / link).is_file()
    assert (tmp_path / "out" / "REPORT.md").read_text() == report.markdown
    assert len(written) == len(report.figures) + 1


def test_report_records_versions_fingerprints_and_parameters(two_runs):
    report = build_report([two_runs[0]], ReportOptions(overrides={**FAST, "plateaus": {"penalty": 2.0}}))
    with __import__("analyzer").open_run(two_runs[0]) as run:
        assert run.fingerprint in report.markdown
    assert "Analyzer version" in report.markdown and '"penalty": 2.0' in report.markdown


def test_report_reads_the_cache(two_runs, monkeypatch):
    build_report([two_runs[0]], ReportOptions(overrides=FAST))
    from analyzer.core import registry

    def boom(run, params, deps):
        raise AssertionError("recomputed although cached")

    import dataclasses

    for name in ("plateaus", "spectrum", "hessian", "correlate"):
        monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(registry.REGISTRY[name], compute=boom))
    build_report([two_runs[0]], ReportOptions(overrides=FAST))


def test_a_report_of_many_runs_holds_its_figures_without_matplotlib_warnings(two_runs, tmp_path):
    import shutil
    import warnings

    paths = []
    for i in range(6):
        source = two_runs[i % 2]
        paths.append(shutil.copy(source, tmp_path / f"run{i}.h5"))
        sidecar = source.with_name(source.stem + ".analysis.h5")
        if sidecar.exists():
            shutil.copy(sidecar, tmp_path / f"run{i}.analysis.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = build_report(paths, ReportOptions(overrides=FAST, workers=1))
    assert len(report.figures) > 20  # past matplotlib's max_open_warning
    assert plt.rcParams["figure.max_open_warning"] == 20  # restored


def test_partial_run_is_reported_as_partial(two_runs, tmp_path):
    partial = tmp_path / "partial.h5"
    partial.write_bytes(two_runs[0].read_bytes())
    with h5py.File(partial, "r+") as f:
        f.attrs["status"] = "running"
        f["commit"][:3] = [150, 151, 16]
    report = build_report([partial], ReportOptions(left_out=("hessian",), overrides=FAST))
    assert "partial, 150 steps" in report.markdown


def test_different_targets_are_compared_only_where_comparable(two_runs, tmp_path):
    other = tmp_path / "other.h5"
    train(small_config(epochs=200, target=small_config().target.__class__(freqs_hz=(1.0, 5.0), amps=(1.0, 0.5),
                                                                          n_train=128)), other)
    report = build_report([two_runs[0], other], ReportOptions(left_out=("hessian",), overrides=FAST))
    assert "Targets differ" in report.markdown
    learned = report.markdown.split("### Learned step per frequency")[1].split("###")[0]
    rows = [line.split(" | ")[0] for line in learned.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == ["| 1"]  # only the shared frequency


def test_existing_report_is_refused_and_other_files_kept(two_runs, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "REPORT.md").write_text("old")
    (out / "notes.txt").write_text("mine")
    report = build_report([two_runs[0]], ReportOptions(left_out=("hessian",), overrides=FAST))
    with pytest.raises(BadInputError, match="already exists"):
        write_report(report, out)
    assert (out / "REPORT.md").read_text() == "old"
    write_report(report, out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "REPORT.md").read_text() != "old"


def test_markdown_table_formats_numbers_and_missing_values():
    import pandas as pd

    lines = markdown_table(pd.DataFrame({"name": ["a|b"], "x": [float("nan")], "n": [12345], "y": [0.000123456]}))
    assert lines[0] == "| name | x | n | y |"
    assert lines[2] == "| a\\|b | – | 12,345 | 0.0001235 |"
    assert markdown_table(pd.DataFrame())[0] == "*(none)*"
    # Step-sized floats read like the whole numbers beside them; large and small ones keep significant digits.
    cells = markdown_table(pd.DataFrame({"a": [8553.75], "b": [10000.0], "c": [25123456.78], "d": [639.94],
                                         "e": pd.Series([None], dtype=object)}))[2]
    assert cells == "| 8,554 | 10,000 | 2.512e+07 | 639.9 | – |"


# ---- figures ------------------------------------------------------------------------------------

def test_figure_functions_return_figures_with_expected_artists(two_runs):
    from analyzer.io.run import open_run
    from analyzer.analyses.spectrum import amplitude_spectrum

    spectrum = analyze(two_runs[0], "spectrum", use_cache=False)
    plateaus = analyze(two_runs[0], "plateaus", use_cache=False)
    steps = np.arange(300)
    fig = loss_figure(steps, np.exp(-steps / 100.0), [(10, 50)], [10, 50])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.lines) == 3 and len(ax.patches) >= 1  # loss + two change points; shaded plateau
    with open_run(two_runs[0]) as run:
        full = amplitude_spectrum(run, max_hz=heatmap_max_hz(spectrum))
    assert full.modes[-1] == 2 * 15 + 5 and full.amplitude.shape == (len(spectrum.steps), 36)
    heat = spectral_heatmap_figure(spectrum, full)
    main_axes = [a for a in heat.axes if a.get_label() != "<colorbar>"]
    assert len(main_axes) == 2
    assert all(any(isinstance(c, QuadMesh) for c in a.collections) for a in main_axes)
    rel = rel_error_figure(spectrum, [(10, 50)])
    labels = [line.get_label() for line in rel.axes[0].lines]
    assert all(f"{f:g} Hz" in labels for f in spectrum.target_modes)
    assert figures.freq_color(3.0, [1, 3, 7]) == figures.freq_color(3.0, [7, 3, 1]) != figures.freq_color(1.0, [1, 3])
    grid = heatmap_grid_figure({"a": spectrum, "b": spectrum, "c": spectrum})
    assert sum(ax.get_visible() for ax in grid.axes if ax.get_label() != "<colorbar>") == 3
    hessian = analyze(two_runs[0], "hessian", use_cache=False, at="every", every=100)
    hfig = hessian_figure(hessian.table, hessian.n_params, plateaus.plateaus()[["start_step", "end_step"]].values)
    assert len(hfig.axes) == 2 and hfig.axes[1].get_ylabel() == "index fraction"
    for f in (fig, heat, rel, grid, hfig):
        plt.close(f)


# ---- CLI ----------------------------------------------------------------------------------------

runner = CliRunner()


def test_report_cli_writes_and_refuses(two_runs, tmp_path):
    out = tmp_path / "cli-report"
    args = ["report", *map(str, two_runs), "-o", str(out), "--no-hessian", "--permutations", "99"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "REPORT.md").is_file() and (out / "compare-loss.png").is_file()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output
    assert runner.invoke(app, [*args, "--overwrite", "--json"]).exit_code == 0


@pytest.mark.parametrize("bad", ["text", "missing", "blocked-folder", "bad-option"])
def test_report_cli_bad_input(two_runs, tmp_path, bad):
    text = tmp_path / "t.h5"
    text.write_text("no")
    blocker = tmp_path / "blocker"
    blocker.write_text("file")
    args = {"text": [str(text), "-o", str(tmp_path / "r")],
            "missing": [str(tmp_path / "nope.h5"), "-o", str(tmp_path / "r")],
            "blocked-folder": [str(two_runs[0]), "-o", str(blocker / "r")],
            "bad-option": [str(two_runs[0]), "-o", str(tmp_path / "r"), "--threshold", "-1"]}[bad]
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2, result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_reproduce_section_says_retraining_reproduces_on_one_machine_only(two_runs):
    report = build_report([two_runs[0]], ReportOptions(left_out=("hessian",), overrides=FAST))
    reproduce = report.markdown.split("## Reproduce")[1].split("\n## ")[0]
    assert "bit for bit only on the same machine" in reproduce and "CPU" in reproduce


def test_non_finite_predictions_are_named_in_the_report(two_runs, tmp_path):
    damaged = tmp_path / "nan-pred.h5"
    damaged.write_bytes(two_runs[0].read_bytes())
    with h5py.File(damaged, "r+") as f:
        f["log/pred"][200:] = np.nan
    report = build_report([damaged], ReportOptions(left_out=("hessian",), overrides=FAST))
    assert "predictions not finite from step 200; analysed the 200 prediction steps before it" in report.markdown
    assert "spectrum.png" in report.figures


@pytest.mark.parametrize("rows", [0, 1])
def test_a_report_of_a_run_without_steps_is_refused_before_any_analysis(two_runs, tmp_path, rows):
    empty = tmp_path / "empty.h5"
    empty.write_bytes(two_runs[0].read_bytes())
    with h5py.File(empty, "r+") as f:
        f["commit"][:3] = [rows, rows, rows]
    with pytest.raises(BadInputError, match=f"nothing to analyze: {rows} committed step"):
        build_report([two_runs[0], empty], ReportOptions(left_out=("hessian",), overrides=FAST))
