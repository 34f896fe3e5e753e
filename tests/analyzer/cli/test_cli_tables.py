"""Terminal tables of every analysis command are readable at 80 columns: no header or cell cut, no line wider."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from analyzer import analyze, correlate
from analyzer.cli import app
from analyzer.cli.output import _column_groups, frame_to_tables

runner = CliRunner()
COMMANDS = ("plateaus", "spectrum", "hessian", "correlate", "score")


def table_headers(output: str) -> list[str]:
    """Header cells of every rich table in the output (the lines between ┃ rules)."""
    return [cell.strip() for line in output.splitlines() if line.startswith("┃")
            for cell in line.strip("┃").split("┃")]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_header_is_whole_at_80_columns(command, known_run):
    result = runner.invoke(app, [command, str(known_run)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    result_tables = (correlate([known_run]) if command == "correlate" else analyze(known_run, command)).tables()
    expected = {str(column) for frame in result_tables.values() for column in frame.columns}
    shown = set(table_headers(result.output))
    assert expected and expected <= shown, sorted(expected - shown)
    assert "…" not in result.output


def test_a_table_that_fits_stays_one_table_and_a_wide_one_repeats_its_key_column():
    frame = pd.DataFrame({"quantity": ["plateau_start", "index"], **{f"column_{i}": [1.5, 2.0] for i in range(12)}})
    wide = frame_to_tables(frame, "wide", 200)
    assert len(wide) == 1 and wide[0][0] == "wide"
    parts = frame_to_tables(frame, "wide", 80)
    assert len(parts) > 1 and [title for title, _ in parts][-1] == f"wide ({len(parts)}/{len(parts)})"
    columns = [[c.header for c in table.columns] for _, table in parts]
    assert all(names[0] == "quantity" for names in columns)
    assert sorted(name for names in columns for name in names[1:]) == sorted(frame.columns[1:])


@pytest.mark.parametrize("widths, width, groups", [([5, 5, 5], 80, [[0, 1, 2]]), ([10, 30, 30], 50, [[0, 1], [0, 2]]),
                                                   ([10, 90], 80, [[0, 1]]), ([4], 80, [[0]])])
def test_column_groups(widths, width, groups):
    assert _column_groups(widths, width) == groups


def test_json_output_is_unchanged_by_the_terminal_width(known_run):
    narrow = runner.invoke(app, ["spectrum", str(known_run), "--json"], env={"COLUMNS": "40"})
    wide = runner.invoke(app, ["spectrum", str(known_run), "--json"], env={"COLUMNS": "300"})
    assert narrow.stdout == wide.stdout and re.match(r"^\{", narrow.stdout)


@pytest.mark.parametrize("command", ["info", "plateaus", "spectrum", "hessian", "correlate", "score", "report", "study"])
def test_help_keeps_its_defaults_and_has_no_stray_spaces(command):
    """Rich markup used to swallow '[default: ...]' written into help text, leaving 'text .'."""
    from analyzer.cli import app

    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Usage" in result.output
    assert " ." not in result.output, result.output


@pytest.mark.parametrize("units, heading", [(["Hz", "Hz"], "Hz"), (["degree"], "degree"), (["Hz", "degree"], "mode")])
def test_the_study_table_heads_its_mode_column_with_the_runs_unit(units, heading, capsys):
    """`analyze study` without --json: the learned-step table's mode column is headed by the unit of the runs' modes
    (Hz on sines, degree on spherical harmonics), `mode` when a study mixes them."""
    from types import SimpleNamespace

    from analyzer.cli.commands import _print_study

    table = pd.DataFrame({"group": ["baseline"], "mode": [1.0], "n": [2], "n_not_learned": [0],
                          "n_reached_then_lost": [0], "mean": [10.0], "ci_low": [9.0], "ci_high": [11.0],
                          "median": [10.0]})
    study = SimpleNamespace(verdicts=[], skipped=[], results={"spectral_bias": {
        "table": table, "learned": pd.DataFrame({"mode_unit": units})}})
    _print_study(study, as_json=False)
    headers = table_headers(capsys.readouterr().out)
    assert heading in headers and not {"Hz", "degree", "mode"} - {heading} & set(headers)
