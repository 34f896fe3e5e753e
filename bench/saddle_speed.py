"""Speed of the saddle evidence: the grid Hessian inside `analyze study` from scratch, and `analyze report` vs `train`.

1. study: copies of the run files without sidecars, then `analyze study DIR --json` as a subprocess (the
   command a user types, 2 workers by default); prints the wall time against the 10-minute goal, and from the
   caches the grid's checkpoints, their summed solver seconds, HVPs and cost in full-batch gradients, and
   the escape analysis' share. The saddle_control and escape pool printed are those of this study.
2. report vs train (--report-vs-train): `train --out-dir D` (the 4 default runs) and `analyze report D/*.h5`
   from scratch, one after the other in the same call; prints both and their ratio (goal <= 1).
3. warm report (--warm-report RUN...): the report of cached runs drawn in this process (`--workers 1`) and in forked
   processes (the default), alternately, twice each; prints the times and checks the two folders are equal.

    OMP_NUM_THREADS=1 .venv/bin/python bench/saddle_speed.py --runs data/sweep32            # 32-run study
    OMP_NUM_THREADS=1 .venv/bin/python bench/saddle_speed.py --runs data/study11 --keep data/study11-out  # + report
    OMP_NUM_THREADS=1 .venv/bin/python bench/saddle_speed.py --report-vs-train               # 4 default runs
    OMP_NUM_THREADS=1 .venv/bin/python bench/saddle_speed.py --warm-report data/runs/{baseline,wide,deep,sgd}-s0.h5
The machine's load (other processes) is printed with each figure: compare ratios measured in one call.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def fresh_copies(paths: list[Path], scratch: Path) -> list[Path]:
    scratch.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, scratch / p.name)) for p in paths]


def timed(command: list[str]) -> tuple[float, str]:
    """Wall seconds and stdout of `command`; its CPU seconds (with the workers it reaped) go to `timed.cpu`."""
    started, cpu_before = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    timed.cpu = _children_cpu() - cpu_before
    return time.perf_counter() - started, done.stdout


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def grid_costs(folder: Path) -> dict:
    """Summed over the runs' caches: grid checkpoints, solver seconds, HVPs, cost in gradients; escape HVPs."""
    from analyzer.core.runner import cached_result
    from analyzer.io.run import open_run

    out = {"checkpoints": 0, "seconds": 0.0, "n_hvp": 0, "cost_gradients": 0.0, "escape_hvp": 0, "escapes": 0}
    for path in sorted(folder.glob("*.h5")):
        if path.name.endswith(".analysis.h5"):
            continue
        with open_run(path) as run:
            grid = cached_result(run, "hessian", at="grid", per_decade=4)
            escape = cached_result(run, "escape")
        if grid is not None:
            out["checkpoints"] += len(grid.table)
            out["seconds"] += float(grid.table.seconds.sum())
            out["n_hvp"] += int(grid.table.n_hvp.sum())
            out["cost_gradients"] += float(grid.table.cost_gradients.sum())
        if escape is not None:
            out["escapes"] += len(escape.table)
            out["escape_hvp"] += int(escape.table.n_hvp.sum()) if len(escape.table) else 0
    return out


def study(runs: Path, workers: int, keep: Path | None) -> None:
    paths = sorted(p for p in runs.glob("*.h5") if not p.name.endswith(".analysis.h5"))
    with tempfile.TemporaryDirectory() as temporary:
        scratch = str(keep or temporary)
        if keep is not None and keep.exists():
            shutil.rmtree(keep)
        fresh_copies(paths, Path(scratch))
        load = os.getloadavg()[0]
        report = ["-o", str(Path(scratch) / "report")] if keep is not None else []
        seconds, stdout = timed([str(BIN / "analyze"), "study", scratch, "--workers", str(workers), "--json", *report])
        costs = grid_costs(Path(scratch))
    payload = json.loads(stdout)
    print(f"analyze study of {len(paths)} runs from scratch, {workers} workers: {seconds:.1f} s wall, "
          f"{timed.cpu:.1f} s CPU ({seconds / 600:.2f} x the 10-minute goal; load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end)")
    print(f"grid Hessian: {costs['checkpoints']} checkpoints, solver {costs['seconds']:.1f} s summed, "
          f"{costs['n_hvp']:,} HVPs, {costs['cost_gradients']:,.0f} full-batch gradients "
          f"({costs['cost_gradients'] / max(costs['checkpoints'], 1):,.0f} per checkpoint)")
    print(f"escape: {costs['escapes']} escapes, {costs['escape_hvp']:,} HVPs")
    control = payload.get("saddle_control") or {}
    print("saddle_control:", json.dumps({k: control.get(k) for k in ("plateau", "control", "difference", "ci_low",
                                                                     "ci_high", "p_value", "n_strata")}))
    print("by tolerance:", json.dumps(control.get("by_tolerance")))
    pool = payload.get("escape_pool") or {}
    print("escape_pool:", json.dumps({k: pool.get(k) for k in ("n_escapes", "overlap_negative", "overlap_top",
                                                               "overlap_random", "control_overlap_negative",
                                                               "difference", "p_value", "freq_matches_jump",
                                                               "n_with_jump", "negative_freq_counts",
                                                               "jump_freq_counts")}))
    fit = payload.get("escape_time") or {}
    print("escape_time:", json.dumps({k: v for k, v in fit.items() if k != "points"}))


def report_vs_train(workers: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        load = os.getloadavg()[0]
        train_s, _ = timed([str(BIN / "train"), "--out-dir", scratch])
        train_cpu, load_between = timed.cpu, os.getloadavg()[0]
        runs = sorted(str(p) for p in Path(scratch).glob("*.h5"))
        report_s, _ = timed([str(BIN / "analyze"), "report", *runs, "-o", str(Path(scratch) / "report"),
                             "--workers", str(workers)])
    print(f"train (4 default runs): {train_s:.1f} s wall, {train_cpu:.1f} s CPU; analyze report of them from "
          f"scratch: {report_s:.1f} s wall, {timed.cpu:.1f} s CPU; report / train = {report_s / train_s:.2f} by wall, "
          f"{timed.cpu / max(train_cpu, 1e-9):.2f} by CPU (goal <= 1 by wall; load average {load:.1f} at the start, "
          f"{load_between:.1f} between, {os.getloadavg()[0]:.1f} at the end)")


def warm_report(runs: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copies = [str(p) for p in fresh_copies(runs, Path(scratch))]
        timed([str(BIN / "analyze"), "report", *copies, "-o", str(Path(scratch) / "cold")])  # fills the caches
        seconds: dict[str, list[float]] = {"1": [], "default": []}
        for attempt in range(2):
            for workers in ("1", "default"):
                out = Path(scratch) / f"{workers}-{attempt}"
                extra = ["--workers", "1"] if workers == "1" else []
                seconds[workers].append(timed([str(BIN / "analyze"), "report", *copies, "-o", str(out), *extra])[0])
        same = all((Path(scratch) / "1-0" / f.name).read_bytes() == f.read_bytes()
                   for f in (Path(scratch) / "default-0").iterdir())
    print(f"warm report of {len(runs)} runs: drawn here (--workers 1) {', '.join(f'{s:.1f}' for s in seconds['1'])} s; "
          f"in forked processes (default) {', '.join(f'{s:.1f}' for s in seconds['default'])} s; "
          f"same files: {same} (load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder of run files for the study figure (e.g. 8 seeds x 4 presets)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report-vs-train", action="store_true")
    parser.add_argument("--warm-report", type=Path, nargs="+", help="run files for the warm-report timing")
    parser.add_argument("--keep", type=Path, help="analyse copies in this folder (replaced) and keep them, the caches "
                                                  "and the study report (DIR/report); default a temporary folder")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.runs:
        study(args.runs, args.workers, args.keep)
    if args.report_vs_train:
        report_vs_train(args.workers)
    if args.warm_report:
        warm_report(args.warm_report)


if __name__ == "__main__":
    main()
