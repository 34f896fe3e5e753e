"""Long work is visible: one-line progress when stderr is not a terminal, a transient bar when it is, HVP counts
that move within a Hessian checkpoint, the report's plan up front, and nothing left over after an error."""

from __future__ import annotations

import io
import json
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
    # a loaded machine may print the task's 0/100 first (the interval is short): the heartbeat then says 40/100
    assert any(line.startswith("analyze hessian: Hessian at step 10 (1/2): 40/100 HVPs") for line in lines)
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
        def advance(self, n, unit, line=False):
            super().advance(n, unit, line)
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
    # the status lines of a slow (loaded) machine's heartbeat may come anywhere: the plan's order is checked without
    lines = [line for line in done.stderr.splitlines()
             if not line.startswith("analyze report: ") or line.startswith("analyze report: done in")]
    assert lines[0].startswith("report: 1 run(s); computing plateaus, spectrum, correlate, hessian")
    assert "P = 321" in lines[1] and "checkpoint(s)" in lines[1] and "HVPs expected (up to " in lines[1]
    assert "live parameters at step" in lines[1]  # the per-HVP time timed on the run's model (curvature/hvp_timing.py)
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
    assert lines[:2] == ["1 of 2 run(s) done (a.h5)", "skipped b.h5: no plateaus"]
    assert len(lines) == 3 and lines[-1].startswith("analyze study: done in")


def test_study_states_its_plan_then_a_line_per_hessian_checkpoint(capsys):
    from types import SimpleNamespace

    from analyzer.study.command import _RunProgress
    from analyzer.study.plan import StudyPlan

    plan = StudyPlan(["study: 1 run file(s); up to 2 jobs per run (plateaus, hessian); cached results are reused",
                      "  a.h5: hessian: P = 321, Hessian at 3 checkpoint(s)",
                      "study: 3 Hessian checkpoint(s) to compute; rough total ~9 s of work"], 3, 9.0)
    with _RunProgress() as shown:  # a log (stderr is not a terminal): lines, rate-limited to one per 30 s ...
        shown.start(1)
        for line in plan.lines:  # each line as it is drawn up, then the plan
            shown.plan(line)
        shown.plan(plan)
        progress.expect(3, "checkpoints")
        for _ in range(3):  # ... except a checkpoint's, printed at once: minutes of work each
            progress.tick(1, "checkpoints", line=True)
        progress.tick(1, "HVPs")  # another unit: not this task's, no line
        shown.advance(SimpleNamespace(path="a.h5"))
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == plan.lines
    assert [line.split(": ", 1)[1].rsplit(" (", 1)[0] for line in lines[3:6]] == [
        f"Hessian checkpoints on Dask workers: {k}/3 checkpoints" for k in (1, 2, 3)]
    assert lines[6] == "1 of 1 run(s) done (a.h5)" and lines[7].startswith("analyze study: done in")


def test_study_cli_plans_first_reports_each_checkpoint_and_keeps_json_clean(tmp_path):
    from typer.testing import CliRunner

    from analyzer.cli import app
    from helpers import small_config
    from trainer.engines.loop import train

    for seed in (0, 1):
        train(small_config(epochs=30, seed=seed), tmp_path / f"r{seed}.h5", overwrite=True)
    done = CliRunner().invoke(app, ["study", str(tmp_path), "--json", "--workers", "1", "--permutations", "19",
                                    "--resamples", "200"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["n_runs"] == 2  # stdout is the JSON alone: progress never goes there
    lines = done.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("study: "))  # after any heartbeat (30 s)
    assert lines[first].startswith("study: 2 run file(s); up to ") and "hessian at=grid per_decade=4" in lines[first]
    planned = [line for line in lines if line.startswith("  r0.h5: hessian")]
    assert len(planned) == 2 and all("P = 321" in line and "checkpoint(s)" in line for line in planned)
    total = next(i for i, line in enumerate(lines) if line.startswith("study: ") and "rough total ~" in line)
    n_checkpoints = int(lines[total].split()[1])
    ticks = [line for line in lines if "Hessian checkpoints on Dask workers: " in line]
    counted = {int(line.split(": ")[2].split("/")[0]) for line in ticks}  # a heartbeat may repeat a count
    assert n_checkpoints > 0 and counted >= set(range(1, n_checkpoints + 1))  # a line per checkpoint ...
    assert lines.index(ticks[0]) > total and max(counted) == n_checkpoints  # ... after the plan
