"""`analyze ntk`'s default drift curve on a run of ~500 checkpoints (the old default, every checkpoint, took
7 min 41 s on the F-Principle port): the thinned default against the exact curve at every checkpoint
(`--drift-every 1`, the old default), timed in the same process on the same run.

Usage (from the repository root):
    OMP_NUM_THREADS=1 .venv/bin/python bench/ntk_drift_default.py [--run RUN.h5] [--steps 500] [--widths 100,200,100]
Without --run, imports a folder of `steps + 1` checkpoints of tests/byo_models.FPNet (default the
1-100-200-100-1 ReLU MLP, P = 40,601) on 200 points of [-pi, pi): a random walk of the parameters (the kernel's
cost does not depend on how the parameters moved, so no training is needed to time it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]


def imported_run(folder: Path, steps: int, widths: list[int]) -> Path:
    import numpy as np
    import torch
    from byo_models import FPNet

    from trainer.byo.importer import import_run

    (folder / "ckpts").mkdir(parents=True)
    x = np.linspace(-np.pi, np.pi, 201)[:-1, None]
    np.savez(folder / "data.npz", x_train=x, y_train=np.sin(x) + np.sin(3 * x) + np.sin(5 * x))
    torch.manual_seed(0)
    model = FPNet(widths=widths)
    for step in range(steps + 1):
        torch.save(model.state_dict(), folder / "ckpts" / f"checkPoint_{step}.pt")
        with torch.no_grad():
            for param in model.parameters():
                param.add_(1e-3 * torch.randn_like(param))
    out = folder / "run.h5"
    import_run(folder / "ckpts", "byo_models:FPNet", folder / "data.npz", out, model_kwargs={"widths": widths})
    return out


def timed(run_path: Path, **params) -> tuple[float, object]:
    import analyzer

    with analyzer.open_run(run_path) as run:
        started = time.perf_counter()
        result = analyzer.analyze(run, "ntk", use_cache=False, **params)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--widths", default="100,200,100")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.run or imported_run(Path(tmp), args.steps, [int(w) for w in args.widths.split(",")])
        timed(path, drift_every=0)  # warm-up: imports, the model's first build, the eigendecomposition's kernels
        thin_s, thin = timed(path)
        exact_s, exact = timed(path, drift_every=1)
    merged = exact.drift.merge(thin.drift, on="step")
    same = bool((merged.relative_change_x == merged.relative_change_y).all())
    print(f"checkpoints {len(exact.drift)}; default: {len(thin.drift)} drift points in {thin_s:.1f} s; "
          f"--drift-every 1: {exact_s:.1f} s; ratio {exact_s / thin_s:.1f}x; thinned values equal the exact ones "
          f"at their steps: {same}; printed rows: {max(len(f) for f in exact.tables().values())}")


if __name__ == "__main__":
    main()
