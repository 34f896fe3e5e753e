"""Invoking the `train` CLI in-process and checking its one-line errors, shared by the trainer tests."""

from __future__ import annotations

from typer.testing import CliRunner

from trainer.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert "Traceback" not in result.output
