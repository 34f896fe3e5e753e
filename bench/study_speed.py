"""`analyze study` from scratch with 1 Dask worker vs N workers (and optionally the serial `analyze report`).

Trains the runs first unless --runs names a folder of run files. Every timed analysis starts from copies of
the run files without sidecar caches, so nothing is a cache hit. Prints seconds and the speed-up ratio.

    OMP_NUM_THREADS=1 .venv/bin/python bench/study_speed.py                       # 4 presets x seed 0, 10,000 epochs
    OMP_NUM_THREADS=1 .venv/bin/python bench/study_speed.py --seeds 0-7 --no-hessian
    OMP_NUM_THREADS=1 .venv/bin/python bench/study_speed.py --runs data/sweeps/study --workers 1,2 --report
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


def train_runs(folder: Path, presets: list[str], seeds: list[int], epochs: int) -> list[Path]:
    import dataclasses

    from trainer.config import get_preset
    from trainer.engines.loop import train

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for preset in presets:
        for seed in seeds:
            path = folder / f"{preset}-s{seed}.h5"
            if not path.exists():
                started = time.perf_counter()
                train(dataclasses.replace(get_preset(preset), seed=seed, epochs=epochs), path)
                print(f"trained {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            paths.append(path)
    return paths


def fresh_copies(paths: list[Path], scratch: Path) -> list[Path]:
    """Copies without sidecars, so the timed analysis computes everything."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    return [Path(shutil.copy2(p, scratch / p.name)) for p in paths]


def time_study(paths: list[Path], workers: int, hessian: bool) -> float:
    from analyzer.study.collect import StudyOptions
    from analyzer.study.build import run_study

    started = time.perf_counter()
    finished = []  # when each run came back: the last one is the critical path

    def done(outcome) -> None:
        finished.append(f"{Path(outcome.path).stem} {time.perf_counter() - started:.1f} s")

    run_study([str(p) for p in paths], StudyOptions(workers=workers, hessian=hessian), on_done=done)
    print(f"  runs done at: {', '.join(finished)}", flush=True)
    return time.perf_counter() - started


def time_report(paths: list[Path], hessian: bool, workers: int) -> float:
    from analyzer.report import ReportOptions, build_report

    started = time.perf_counter()
    build_report(paths, ReportOptions(left_out=() if hessian else ("hessian",), workers=workers))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder of existing run files (else train them)")
    parser.add_argument("--presets", default="baseline,wide,deep,sgd")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=10_000)
    parser.add_argument("--train-dir", type=Path, default=Path("data/bench-study"))
    parser.add_argument("--workers", default=f"1,{os.cpu_count()}", help="comma-separated worker counts")
    parser.add_argument("--no-hessian", action="store_true")
    parser.add_argument("--report", action="store_true",
                        help="also time `analyze report` of the runs, in process (--workers 1) and on each worker count")
    args = parser.parse_args()
    hessian = not args.no_hessian
    if args.runs:
        from analyzer.study.collect import collect_paths

        paths = collect_paths([args.runs])
    else:
        paths = train_runs(args.train_dir, args.presets.split(","), _seeds(args.seeds), args.epochs)
    worker_counts = [int(w) for w in args.workers.split(",")]
    print(f"{len(paths)} runs, Hessian {'on' if hessian else 'off'}, {os.cpu_count()} cores")
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        for workers in worker_counts if args.report else []:
            label = f"analyze report, {workers} worker{'s' * (workers != 1)}" + (" (in process)" if workers == 1 else "")
            times[label] = time_report(fresh_copies(paths, Path(scratch) / f"r{workers}"), hessian, workers)
            print(f"{label}: {times[label]:.1f} s", flush=True)
        for workers in worker_counts:
            label = f"analyze study, {workers} worker{'s' * (workers != 1)}"
            times[label] = time_study(fresh_copies(paths, Path(scratch) / f"w{workers}"), workers, hessian)
            print(f"{label}: {times[label]:.1f} s", flush=True)
    base = next(iter(times.values()))
    print("\n| configuration | seconds | speed-up vs first row |\n|---|---:|---:|")
    for label, seconds in times.items():
        print(f"| {label} | {seconds:.1f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
