"""Damaged and degenerate run files: the cases, how each is made from a real known-answer run, what each command
must answer (shared by tests/analyzer/cli/test_damaged_files.py and test_damaged_reports.py).

Every case is a copy of one small real known-answer run (conftest.known_run, so `score` runs too), edited with h5py the
way a crash, a bad disk or a foreign tool would leave it. A refusal (exit 2) is one line on stderr naming the
problem; where the command can still answer (exit 0) its output says what it could not analyse.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import h5py
import numpy as np
from typer.testing import CliRunner

from analyzer.cli import app

COMMANDS = ("info", "plateaus", "spectrum", "hessian", "escape", "correlate", "score", "harmonics", "ntk", "mask",
            "report")
ANALYSES = COMMANDS[1:]
MANY_RUN_COMMANDS = ("study",)  # takes a folder: every damaged file at once (test below), damaged ones skipped
RUNLESS_COMMANDS = ("activations",)  # reads no run file
SINES_ONLY_HARMONICS = (2, "--target harmonics")  # harmonics on the (sines) known-answer run the cases damage
NAN_FROM_ROW = 300  # damaged cases turn values non-finite from this row (step) on


def _set(path: str, rows: slice, value: float):
    def edit(f: h5py.File) -> None:
        shape = np.empty(f[path].shape, dtype=bool)[rows].shape
        f[path][rows] = np.full(shape, value)  # a whole block: h5py writes a broadcast scalar row by row
    return edit


def _delete(path: str):
    def edit(f: h5py.File) -> None:
        del f[path]
    return edit


def _attr(name: str, value):
    def edit(f: h5py.File) -> None:
        f.attrs[name] = value
    return edit


def _json_attr(node: str, name: str, key: str, value):
    def edit(f: h5py.File) -> None:
        decoded = json.loads(f[node].attrs[name])
        decoded[key] = value
        f[node].attrs[name] = json.dumps(decoded)
    return edit


def _commit(rows: int):
    def edit(f: h5py.File) -> None:
        f["commit"][:3] = rows
    return edit


# case -> (how the copy is edited, {command: (exit code, fragment of the answer)}); commands not named exit 2
# with the fragment under "*"
def refused(fragment: str) -> dict:
    return {"*": (2, fragment)}


NOTHING = "nothing to analyze"
CASES = {
    "schema-version-7": (_attr("schema_version", 7), refused("schema version 7")),
    "schema-version-not-a-number": (_attr("schema_version", "[]"), refused("run file header unreadable")),
    "missing-log-loss": (_delete("log/loss"), refused("missing /log/loss")),
    "missing-log-pred": (_delete("log/pred"), refused("missing /log/pred")),
    "missing-grad-norm": (_delete("log/grad_norm"), refused("missing /log/grad_norm")),
    "missing-ckpt-params": (_delete("ckpt/params"), refused("missing /ckpt/params")),
    "missing-y-eval": (_delete("data/y_eval"), refused("missing /data/y_eval")),
    "missing-commit": (_delete("commit"), refused("missing /commit")),
    "nan-loss": (_set("log/loss", slice(NAN_FROM_ROW, None), np.nan),
                 {"*": (0, ""), "plateaus": (0, f"loss not finite from step {NAN_FROM_ROW}"),
                  "score": (0, f"loss not finite from step {NAN_FROM_ROW}")}),
    "nan-loss-from-start": (_set("log/loss", slice(None), np.nan),
                            {"*": (2, "NaN, infinite or non-positive from the first step"), "info": (0, ""),
                             "ntk": (0, ""), "mask": (0, ""),
                             "spectrum": (0, ""), "report": (0, "not available: nan-loss-from-start: plateaus")}),
    "inf-predictions": (_set("log/pred", slice(NAN_FROM_ROW, None), np.inf),
                        {"*": (0, ""), "spectrum": (0, f"predictions not finite from step {NAN_FROM_ROW}"),
                         "score": (0, f"predictions not finite from step {NAN_FROM_ROW}"),
                         "ntk": (0, f"predictions not finite from step {NAN_FROM_ROW}"),
                         "mask": (0, f"predictions not finite from step {NAN_FROM_ROW}")}),
    "nan-predictions": (_set("log/pred", slice(NAN_FROM_ROW, None), np.nan),
                        {"*": (0, ""), "spectrum": (0, f"predictions not finite from step {NAN_FROM_ROW}"),
                         "correlate": (0, "one run: descriptive"), "score": (0, "targets missed"),
                         "ntk": (0, f"predictions not finite from step {NAN_FROM_ROW}"),
                         "mask": (0, f"predictions not finite from step {NAN_FROM_ROW}")}),
    "nan-predictions-from-start": (_set("log/pred", slice(None), np.nan),
                                   {"*": (2, "predictions are NaN or infinite from the first stored step"),
                                    "info": (0, ""), "plateaus": (0, ""), "hessian": (0, ""),
                                    "report": (0, "not available: nan-predictions-from-start: spectrum")}),
    "zero-steps": (_commit(0), {"*": (2, NOTHING), "info": (0, "nothing to analyze yet: 0 committed step(s)"),
                                "plateaus": (2, "0 logged step(s)"),
                                "hessian": (2, "no stored checkpoints"), "score": (2, "0 logged step(s)"),
                                "escape": (2, "0 logged step(s)"),
                                "ntk": (2, "no stored checkpoint"), "mask": (2, "no stored checkpoint")}),
    "one-step": (_commit(1), {"*": (2, NOTHING), "info": (0, "nothing to analyze yet: 1 committed step(s)"),
                              "plateaus": (2, "1 logged step(s)"),
                              "hessian": (2, "1 logged step(s)"), "score": (2, "1 logged step(s)"),
                              "escape": (2, "1 logged step(s)")}),
    "constant-loss": (_set("log/loss", slice(None), 0.25),
                      {"*": (0, ""), "plateaus": (0, "no plateau edges found"), "correlate": (0, "nothing to test"),
                       "score": (0, "targets missed")}),
    "config-not-json": (_attr("config", "{not json"), refused("run file metadata unreadable")),
    "config-not-an-object": (_attr("config", "7"), refused("config attribute is JSON int, not an object")),
    "layout-shapes-not-a-list": (_json_attr("model", "layout", "shapes", "x"),
                                 {"*": (0, ""), "hessian": (2, "stored parameter layout is unreadable"),
                                  "escape": (2, "stored parameter layout is unreadable"),
                                  "ntk": (2, "stored parameter layout is unreadable"),
                                  "mask": (2, "stored parameter layout is unreadable"),
                                  "score": (2, "stored parameter layout is unreadable"),
                                  "report": (0, "not available: layout-shapes-not-a-list: hessian")}),
    "negative-epochs-in-config": (_json_attr("/", "config", "epochs", -1),
                                  {"*": (0, ""), "score": (2, "stored config is invalid (epochs")}),
    "epochs-and-amplitudes-not-numbers": (
        lambda f: (_json_attr("/", "config", "epochs", "x")(f), _json_attr("data", "target", "amps", "x")(f)),
        {"*": (0, ""), "score": (2, "stored config is invalid"), "spectrum": (0, ""),
         "report": (0, "wrote")}),
    "marker-past-data": (_commit(10**9), refused("commit marker names 1,000,000,000 log rows but /log/step stores")),
    "marker-negative": (_commit(-5), refused("commit marker names -5 log rows")),
}
OTHER_FILES = {  # not copies of a run: written whole
    "truncated": refused("truncated"),
    "foreign-hdf5": refused("not a run file"),
    "not-hdf5": refused("not an HDF5 file"),
    "empty-file": refused("not an HDF5 file"),
    "directory": refused("is a directory, not a run file"),
    "no-such-file": refused("no such file"),
}


def build_damaged(known_run, folder):
    """Every case's file in `folder`, built once per test module: the commands of one case share it (and its
    sidecar cache)."""
    files = {}
    for case, (edit, _) in CASES.items():
        files[case] = folder / f"{case}.h5"
        shutil.copy(known_run, files[case])
        with h5py.File(files[case], "r+") as f:
            edit(f)
    files["truncated"] = folder / "truncated.h5"
    files["truncated"].write_bytes(known_run.read_bytes()[: known_run.stat().st_size // 2])
    files["foreign-hdf5"] = folder / "foreign.h5"
    with h5py.File(files["foreign-hdf5"], "w") as f:
        f["x"] = np.arange(3)
    files["not-hdf5"] = folder / "text.h5"
    files["not-hdf5"].write_text("step,loss\n0,1.0\n")
    files["empty-file"] = folder / "empty.h5"
    files["empty-file"].write_bytes(b"")
    files["directory"] = folder / "folder.h5"
    files["directory"].mkdir()
    files["no-such-file"] = folder / "absent.h5"
    return files


def expected(case: str, command: str) -> tuple[int, str]:
    table = CASES[case][1] if case in CASES else OTHER_FILES[case]
    if command == "harmonics" and expected(case, "info")[0] == 0:  # the file opens: refused as a sines run
        return SINES_ONLY_HARMONICS
    return table.get(command, table["*"])


def digest(path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def invoke(command: str, path, tmp_path, workers: int | None = 1):
    """`analyze COMMAND PATH` in-process; a report with `workers` (1: computed and drawn here, None: the default
    Dask cluster and forked drawing)."""
    extra = ["-o", str(tmp_path / "report")] if command == "report" else []
    if command == "report" and workers is not None:
        extra += ["--workers", str(workers)]
    return CliRunner().invoke(app, [command, str(path), *extra])




def check_answer(case: str, command: str, files: dict, tmp_path, workers: int | None = 1) -> None:
    """The command's answer on the case's file: its exit code and fragment, one `error:` line when refused, never a
    traceback, and the file's bytes unchanged."""
    path = files[case]
    before = digest(path)
    result = invoke(command, path, tmp_path, workers)
    code, fragment = expected(case, command)
    output = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    assert "Traceback" not in result.output and not isinstance(result.exception, (ValueError, KeyError, TypeError))
    assert result.exit_code == code, result.output
    assert fragment in output, result.output
    if code != 0:
        assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: "), result.output
    assert digest(path) == before
