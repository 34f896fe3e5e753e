"""Damaged and degenerate run files x `analyze report`, and `analyze study` over a folder of every case
(tests/damaged_cases.py holds the cases): a clear answer, never a traceback, no file touched."""

from __future__ import annotations

import json
import pathlib

import pytest
from damaged_cases import CASES, OTHER_FILES, build_damaged, check_answer, digest, expected
from typer.testing import CliRunner

from analyzer.cli import app

# The report of every case computes and draws in this process (--workers 1); these also take the default path, a
# Dask cluster of worker processes and forked drawing: refused at open, and partly refused (the rest answered).
ON_WORKERS = ("schema-version-7", "nan-loss-from-start")


@pytest.fixture(scope="module")
def damaged(known_run, tmp_path_factory):
    return build_damaged(known_run, tmp_path_factory.mktemp("cases"))


@pytest.mark.parametrize("case", [*CASES, *OTHER_FILES])
def test_damaged_file_gets_a_clear_report_and_stays_unchanged(case, damaged, tmp_path):
    check_answer(case, "report", damaged, tmp_path)


@pytest.mark.parametrize("case", ON_WORKERS)
def test_the_default_report_path_gives_the_same_answers(case, known_run, tmp_path_factory, tmp_path):
    files = build_damaged(known_run, tmp_path_factory.mktemp("cases-on-workers"))  # cold caches: workers compute
    check_answer(case, "report", files, tmp_path, workers=None)


def test_study_over_every_damaged_file_skips_the_refused_ones_and_changes_nothing(damaged, known_run):
    """`analyze study` on the folder of all cases plus one good run: exit 0, each file the single-run
    commands refuse at open is listed as skipped with a reason, and no file is touched."""
    folder = damaged["truncated"].parent
    files = sorted(p for p in folder.glob("*.h5") if p.is_file() and not p.name.endswith(".analysis.h5"))
    before = {p: digest(p) for p in files}
    result = CliRunner().invoke(app, ["study", str(folder), str(known_run), "--json", "--no-hessian",
                                      "--workers", "1", "--permutations", "99", "--resamples", "200"])
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    skipped = {pathlib.Path(s["path"]).name for s in payload["skipped"]}
    assert all(s["reason"] for s in payload["skipped"])
    refused_at_open = {damaged[case].name for case in [*CASES, *OTHER_FILES]
                       if expected(case, "info")[0] == 2 and damaged[case].is_file()}
    assert refused_at_open <= skipped, sorted(refused_at_open - skipped)
    assert payload["n_runs"] >= 1
    assert {p: digest(p) for p in files} == before
