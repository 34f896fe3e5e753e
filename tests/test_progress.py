"""Long work is visible: one-line progress when stderr is not a terminal, a transient bar when it is, HVP counts
that move within a Hessian checkpoint, the report's plan up front, and nothing left over after an error."""

from __future__ import annotations

import io
import time

import pytest

from analyzer.core import progress


def test_lines_report_tasks_budgets_and_a_heartbeat():
    stream = io.StringIO()
    with progress.display("analyze hessian", stream=stream, interval=0.05, terminal=False):
        progress.task("Hessian at step 10 (1/2)", 100, "HVPs")
        progress.tick(40)
        progress.tick(5, "runs")  # another unit: not this task's
        time.sleep(0.3)  # the heartbeat prints the current state
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("analyze hessian: Hessian at step 10 (1/2): 40/100 HVPs")
    assert not any("45/100" in line for line in lines)
    assert lines[-1].startswith("analyze hessian: done in")
    progress.tick()  # no display open: nothing happens, nothing fails
    assert stream.getvalue().splitlines() == lines


def test_a_quick_command_prints_no_progress_lines():
    stream = io.StringIO()
    with progress.display("analyze plateaus", stream=stream, interval=30, terminal=False):
        progress.task("anything", 10, "HVPs")
        progress.tick(3)
    assert stream.getvalue() == ""


def test_an_error_closes_the_display_without_a_done_line():
    stream = io.StringIO()
    with pytest.raises(ValueError):
        with progress.display("analyze report", stream=stream, interval=60, terminal=False):
            progress.task("analyzing r: hessian")
            raise ValueError("boom")
    assert "done" not in stream.getvalue()
    assert progress._active.get() is None


def test_the_terminal_bar_is_stopped_and_erased_after_an_error():
    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        with progress.display("analyze hessian", stream=stream, terminal=True) as shown:
            progress.task("Hessian at step 0 (1/1)", 50, "HVPs")
            progress.tick(10)
            assert shown.bar.tasks[0].completed == 10 and shown.bar.tasks[0].total == 50
            raise RuntimeError("boom")
    assert not shown.bar.live.is_started


def test_the_hessian_bar_moves_within_a_checkpoint(tmp_path):
    from analyzer.core.runner import analyze
    from helpers import small_config
    from trainer.engines.loop import train

    path = tmp_path / "r.h5"
    train(small_config(epochs=20), path, overwrite=True)
    seen = []

    class Recorder(progress._Lines):
        def advance(self, n, unit):
            super().advance(n, unit)
            seen.append((self.description, self.done, self.total))

    with progress.display("t", stream=io.StringIO(), terminal=False):
        recorder = Recorder("t", io.StringIO(), 60)
        token = progress._active.set(recorder)
        try:
            analyze(path, "hessian", steps=(0, 20), method="lanczos", use_cache=False)
        finally:
            progress._active.reset(token)
            recorder.close(True)
    first = [done for description, done, _ in seen if description.startswith("Hessian at step 0 (1/2)")]
    assert len(first) > 10 and first == sorted(first)  # many updates inside one checkpoint
    assert all(done <= total for _, done, total in seen)


def test_report_states_its_plan_first_and_leaves_no_bar_after_an_error(tmp_path):
    from typer.testing import CliRunner

    from analyzer.cli import app
    from helpers import small_config
    from trainer.engines.loop import train

    path = tmp_path / "r.h5"
    train(small_config(epochs=30), path, overwrite=True)
    runner = CliRunner()
    done = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "out"), "--workers", "1"])
    assert done.exit_code == 0, done.output
    lines = done.stderr.splitlines()
    assert lines[0].startswith("report: 1 run(s); computing plateaus, spectrum, correlate, hessian")
    assert "P = 321" in lines[1] and "checkpoint(s)" in lines[1] and "ms (flop count): up to ~" in lines[1]
    assert lines[2].startswith("report: rough total ~")
    assert lines[-2].startswith("analyze report: done in") and lines[-1].startswith("wrote ")
    bad = runner.invoke(app, ["hessian", str(path), "--steps", "7", "--no-cache"])
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[-1].startswith("error: ") and "done in" not in bad.stderr


def test_study_progress_counts_runs_and_names_skipped_ones(capsys):
    from types import SimpleNamespace

    from analyzer.study.collect import SkippedRun
    from analyzer.study.command import _RunProgress

    with _RunProgress() as shown:
        shown.start(2)
        shown.advance(SimpleNamespace(path="a.h5"))
        shown.advance(SkippedRun(path="b.h5", reason="no plateaus"))
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["skipped b.h5: no plateaus", lines[-1]] and lines[-1].startswith("analyze study: done in")
