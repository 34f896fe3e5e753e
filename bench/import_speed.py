"""`train import` speed and peak memory on folders of baseline-sized checkpoints (goal: >= 200 checkpoints/s,
peak memory independent of the folder's size).

Usage (from the repository root):
    OMP_NUM_THREADS=1 .venv/bin/python bench/import_speed.py [--sizes 250,1000] [--repeats 3]
Writes folders of state dicts of the baseline MLP (2 x 50 ReLU, P = 2,701; .pt, and .safetensors for
the largest size) with 1,000 training points, then imports each folder in a fresh process that
reports its own time and peak RSS (ru_maxrss) before and after the import. For scale, the same
process then times the bare reads of the folder (torch.load / safe_open of every file, nothing
else): the import's rate is shown as a ratio to that floor, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHILD = """
import json, resource, sys, time
from pathlib import Path
import torch
from trainer.byo.checkpoints import list_checkpoints, read_state
from trainer.byo.importer import import_run
folder, data, out = map(Path, sys.argv[1:4])
before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = import_run(folder, "preset:baseline", data, out, overwrite=True)
after_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()  # the floor: reading every file, nothing else (after the import: own peak first)
for item in list_checkpoints(folder):
    read_state(item.path)
read_s = time.perf_counter() - started
print(json.dumps({"n": result.checkpoints, "import_s": result.seconds, "read_s": read_s,
                  "rss_before_mb": before_kb / 1024, "rss_peak_mb": after_kb / 1024}))
"""


def write_folder(folder: Path, n_checkpoints: int, fmt: str) -> None:
    """n state dicts of the baseline MLP, its parameters drifting a little from step to step."""
    import torch
    from safetensors.torch import save_file

    from trainer.config import PRESETS
    from trainer.models import build_model

    folder.mkdir(parents=True)
    model = build_model(PRESETS["baseline"].model, seed=0)
    generator = torch.Generator().manual_seed(0)
    for index in range(n_checkpoints):
        with torch.no_grad():
            for param in model.parameters():
                param.add_(1e-3 * torch.randn(param.shape, generator=generator))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        if fmt == "pt":
            torch.save(state, folder / f"ckpt_{index * 10:06d}.pt")
        else:
            save_file(state, str(folder / f"ckpt_{index * 10:06d}.safetensors"))


def write_data(path: Path) -> None:
    import numpy as np

    from trainer.config import PRESETS
    from trainer.targets import make_data

    data = make_data(PRESETS["baseline"].target)  # 1,000 training points, eval grid = training grid
    np.savez(path, x_train=data["x_train"], y_train=data["y_train"])


def import_in_child(folder: Path, data: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(data), str(out)], capture_output=True,
                          text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                                      **_thread_env()})
    return json.loads(done.stdout.strip().splitlines()[-1])


def _thread_env() -> dict:
    import os

    return {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250,1000", help="folder sizes (checkpoints), comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="imports per folder (median reported)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_data(root / "data.npz")
        cases = [(n, "pt") for n in sizes] + [(max(sizes), "safetensors")]
        print("| checkpoints | format | bare reads /s | import /s | import / reads | peak RSS before MB | "
              "peak RSS after MB | import's own peak MB |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|")
        for n, fmt in cases:
            folder = root / f"{fmt}-{n}"
            write_folder(folder, n, fmt)
            runs = [import_in_child(folder, root / "data.npz", root / f"{fmt}-{n}.h5") for _ in range(args.repeats)]
            read_rate = statistics.median(r["n"] / r["read_s"] for r in runs)
            import_rate = statistics.median(r["n"] / r["import_s"] for r in runs)
            before = statistics.median(r["rss_before_mb"] for r in runs)
            peak = statistics.median(r["rss_peak_mb"] for r in runs)
            print(f"| {n:,} | {fmt} | {read_rate:,.0f} | {import_rate:,.0f} | {import_rate / read_rate:.2f} | "
                  f"{before:.0f} | {peak:.0f} | {peak - before:.0f} |", flush=True)
    print(f"\nload average during the run: {open('/proc/loadavg').read().split()[:3]}; "
          f"at {time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    main()
