"""Damaged and degenerate run files x every single-run analysis command but `report` (tests/damaged_cases.py holds the
cases): a clear answer, never a traceback, the file untouched. The report column and `analyze study` over every case:
test_damaged_reports.py."""

from __future__ import annotations

import pytest
from damaged_cases import CASES, COMMANDS, MANY_RUN_COMMANDS, OTHER_FILES, RUNLESS_COMMANDS, build_damaged, check_answer

from analyzer.cli import app


@pytest.fixture(scope="module")
def damaged(known_run, tmp_path_factory):
    return build_damaged(known_run, tmp_path_factory.mktemp("cases"))


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "report"])
@pytest.mark.parametrize("case", [*CASES, *OTHER_FILES])
def test_damaged_file_gets_a_clear_answer_and_stays_unchanged(case, command, damaged, tmp_path):
    check_answer(case, command, damaged, tmp_path)


def test_the_matrix_covers_every_analysis_command():
    from analyzer.core import registry

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert commands == set(COMMANDS) | set(MANY_RUN_COMMANDS) | set(RUNLESS_COMMANDS), \
        "a new command needs its row in the damaged-file matrix"
    assert set(registry.names()) <= set(COMMANDS) | set(RUNLESS_COMMANDS)
    assert all(not registry.get(name).needs_run for name in RUNLESS_COMMANDS)
