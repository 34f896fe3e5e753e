"""Kill -9 `train run` and `train resume` at random instants, resume until complete, compare bit for bit.

Usage (from the repo root): OMP_NUM_THREADS=1 .venv/bin/python bench/kill_loop.py [--kills 20] [--epochs 3000]
    [--preset baseline] [--max-kills-per-run 6] [--seed 0] [--work-dir DIR]

Trains one uninterrupted reference with `python -m trainer.cli run`, then runs episodes: each starts a
fresh `train run` and, after every kill, the command a user would run next (`train resume` once the
run file exists, `train run` again before). Kill instants are drawn from three kinds: anywhere in the
reference's wall time, during start-up, and while a temporary (`RUN.creating`, `RUN.resuming`,
`RUN.closing`) exists, i.e. during creation, the copy of a resume or the status write. After every
kill the file must open with whole rows and a resume slot naming a stored checkpoint; every finished
run must equal the reference in every dataset except /resume/*. Prints a summary; exit 1 on failure.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's trainer, also in the children (PYTHONPATH below)

import numpy as np  # noqa: E402

from trainer.runfile import schema as runfile  # noqa: E402
from trainer.runfile.writer import TEMP_SUFFIXES  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def command(args, mode: str, path: Path) -> list[str]:
    cli = [sys.executable, "-m", "trainer.cli"]
    if mode == "resume":
        return [*cli, "resume", str(path)]
    return [*cli, "run", "--preset", args.preset, "--epochs", str(args.epochs), "--seed", str(args.seed),
            "--out", str(path)]


def run_to_end(cmd: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(cmd, env=ENV, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def temps(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in TEMP_SUFFIXES]


def wait_and_kill(proc: subprocess.Popen, path: Path, kind: str, rng, ref_s: float) -> bool:
    """Kill `proc` at an instant of the given kind; False if it finished first."""
    if kind == "anywhere":
        deadline = time.monotonic() + rng.uniform(0.0, ref_s)
    elif kind == "start-up":
        deadline = time.monotonic() + rng.uniform(0.0, 0.5 * ref_s)
    else:  # "temporary": a random instant once a temporary file shows up (creation, copy, status write)
        while proc.poll() is None and not any(p.exists() for p in temps(path)):
            time.sleep(0.001)
        deadline = time.monotonic() + rng.exponential(0.05)
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def check_after_kill(path: Path) -> tuple[int, str]:
    """The invariants a killed file must keep; returns (committed steps, where the kill landed)."""
    left = [p.name.rsplit(".", 1)[-1] for p in temps(path) if p.exists()]
    if not path.exists():
        return 0, "before the run file existed" + (f" ({left[0]})" if left else "")
    with runfile.open_swmr_reader(path) as f:
        counts = runfile.committed(f)
        n = counts["log"]
        assert np.array_equal(f["log/step"][:n], np.arange(n)), "log rows not whole"
        pred_steps, ckpt_steps = f["log/pred_step"][: counts["pred"]], f["ckpt/step"][: counts["ckpt"]]
        assert np.all(np.diff(pred_steps) > 0) and np.all(np.diff(ckpt_steps) > 0), "rows out of order"
        assert np.isfinite(f["log/loss"][:n]).all() and np.isfinite(f["log/pred"][: counts["pred"]]).all()
        assert f["log/pred"].shape[0] >= counts["pred"] and f["ckpt/params"].shape[0] >= counts["ckpt"]
        slot = counts["resume_slot"]
        if slot != runfile.NO_SLOT:
            assert int(f["resume/step"][slot]) in ckpt_steps, "resume slot names no stored checkpoint"
        status = str(f.attrs["status"])
    where = "after the run finished" if status == "complete" else f"at {n} committed steps"
    return n, where + (f" ({left[0]} present)" if left else "")


def episode(args, path: Path, rng, ref_s: float, stats: Counter) -> None:
    """One run from `train run` to complete, killed up to `max_kills_per_run` times on the way."""
    for attempt in range(args.max_kills_per_run + 1):
        mode = "resume" if path.exists() else "train"
        if path.exists():
            with runfile.open_swmr_reader(path) as f:
                if str(f.attrs["status"]) == "complete":
                    return
        proc = subprocess.Popen(command(args, mode, path), env=ENV, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stats["resumes" if mode == "resume" else "runs"] += 1
        if attempt == args.max_kills_per_run or stats["kills"] >= args.kills:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(command(args, mode, path))} failed: {err.decode().strip()}")
            return
        kind = str(rng.choice(["anywhere", "start-up", "temporary"], p=[0.5, 0.2, 0.3]))
        if not wait_and_kill(proc, path, kind, rng, ref_s):
            if proc.returncode != 0:
                raise SystemExit(f"{mode} failed: {proc.stderr.read().decode().strip()}")
            continue
        stats["kills"] += 1
        stats[f"kills during {mode}"] += 1
        steps, where = check_after_kill(path)
        print(f"kill {stats['kills']:3d}: {mode:6s} {kind:9s} -> {where}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--preset", default="baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-kills-per-run", type=int, default=6)
    parser.add_argument("--rng-seed", type=int, default=0, help="Seed of the kill instants.")
    parser.add_argument("--work-dir", type=Path, default=None, help="Where run files go [a temporary folder].")
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="kill-loop-"))
    work.mkdir(parents=True, exist_ok=True)
    reference = work / "reference.h5"
    reference.unlink(missing_ok=True)
    ref_s = run_to_end(command(args, "train", reference))
    print(f"reference: {args.preset} {args.epochs} epochs, {ref_s:.1f} s wall incl. start-up ({work})", flush=True)
    rng, stats, unequal = np.random.default_rng(args.rng_seed), Counter(), []
    while stats["kills"] < args.kills:
        path = work / f"run-{stats['episodes']}.h5"
        stats["episodes"] += 1
        episode(args, path, rng, ref_s, stats)
        differences = runfile.differences(path, reference)
        if differences:
            unequal.append(f"{path.name}: {', '.join(differences)}")
    print(f"kills: {stats['kills']} ({stats['kills during train']} during train run, "
          f"{stats['kills during resume']} during train resume); train run started {stats['runs']} times, "
          f"train resume {stats['resumes']} times; runs completed: {stats['episodes']}")
    print(f"all runs bitwise equal to the uninterrupted reference (every dataset but /resume/*): "
          f"{'yes' if not unequal else 'NO'}")
    for line in unequal:
        print("  " + line)
    return 1 if unequal else 0


if __name__ == "__main__":
    sys.exit(main())
