"""Known-answer validation: score the plateau, jump, Hessian and correlation analyses on diag-linear runs.

Sweeps target amplitudes x feature decay p x init scale u0 (36 configurations by default), trains each run
(full-batch GD, lr 0.05, float64, long enough for every escape to finish), runs `analyze score` on it and
prints per-configuration rows and the pooled summary as Markdown (paste into bench/RESULTS.md).

    OMP_NUM_THREADS=1 .venv/bin/python bench/known_answer_validation.py [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

AMPLITUDES = {"seed": (1.0, 0.8, 0.6, 0.4), "flat": (1.0, 1.0, 1.0, 1.0), "rising": (0.4, 0.6, 0.8, 1.0),
              "halving": (1.0, 0.5, 0.25, 0.125)}
DECAYS = (0.25, 0.5, 1.0)
INIT_SCALES = (1e-2, 1e-3, 1e-4)
MAX_EPOCHS = 25_000


def sweep_configs(quick: bool = False):
    """(name, TrainConfig) for every amplitude set x decay x init scale; epochs cover the last escape."""
    from analyzer.analyses.score.known import ModeSystem
    from trainer.config import PRESETS

    base = PRESETS["diag-linear"]
    grid = itertools.product(AMPLITUDES.items(), DECAYS, INIT_SCALES)
    for (amp_name, amps), decay, init in (list(grid)[::5] if quick else grid):
        model = dataclasses.replace(base.model, feature_decay=decay, init_scale=init)
        config = dataclasses.replace(base, model=model, target=dataclasses.replace(base.target, amps=amps))
        system = ModeSystem.from_config(dataclasses.asdict(config))
        last_end = np.nanmax(system.escape_closed_form() + system.width_closed_form())
        epochs = int(min(MAX_EPOCHS, 100 * math.ceil(1.3 * last_end / 100)))
        yield f"{amp_name}-p{decay:g}-u{init:g}", dataclasses.replace(config, epochs=epochs)


def score_one(name: str, config, folder: Path) -> tuple[dict, pd.DataFrame]:
    from analyzer.core.runner import analyze
    from trainer.engines.loop import train

    path = folder / f"{name}.h5"
    started = time.perf_counter()
    train(config, path, overwrite=True)
    result = analyze(path, "score", use_cache=False)
    table = result.table.assign(config=name)
    edges = table[table.quantity.isin(["plateau_start", "plateau_end"])]
    summary = {"config": name, "epochs": config.epochs, "plateaus": result.n_plateaus_predicted,
               "detected": result.n_plateaus_detected, "edges_found": int(edges.detected.notna().sum()),
               "edges": len(edges), "median_edge": _inf(result.median_edge_error),
               "worst_edge": _inf(result.worst_edge_error), "median_jump": _inf(result.median_jump_error),
               "index_exact": result.index_exact,
               "p_value": result.p_value, "p_edges": _p_edges(table), "p_required": result.correlation_required,
               "seconds": round(time.perf_counter() - started, 1)}
    return summary, table


def _p_edges(table: pd.DataFrame) -> float:
    rows = table[table.quantity == "correlation_p_edges"]
    return float(rows.detected.iloc[0]) if len(rows) else float("nan")


def _inf(value: float | None) -> float:
    """The score reports a missed edge or jump as None; in the sweep it is an infinite error."""
    return np.inf if value is None else value


def pooled(summaries: pd.DataFrame, tables: pd.DataFrame) -> dict:
    """Medians and worst cases over all configurations; a missed edge or jump counts as an infinite error."""
    edge_errors = tables[tables.quantity.isin(["plateau_start", "plateau_end"])].error_fraction.fillna(np.inf)
    jumps = tables[tables.quantity == "jump_step"].error_fraction.fillna(np.inf)
    change_points = tables[tables.quantity == "nearest_change_point"].error_fraction.fillna(np.inf)
    learned = tables[tables.quantity == "learned_step"]
    index = tables[tables.quantity == "index"]
    required = summaries[summaries.p_required]
    rejects = required.p_value.fillna(1.0) < 0.01
    rejects_edges = required.p_edges.fillna(1.0) < 0.01
    return {
        "configurations": len(summaries),
        "plateau edges (found / predicted)": f"{int(np.isfinite(edge_errors).sum())} / {len(edge_errors)}",
        "edge error, median over edges (fraction of plateau length)": _fmt(np.median(edge_errors)),
        "edge error, worst": _fmt(np.max(edge_errors)),
        "configs with median edge error <= 5%": f"{int((summaries.median_edge <= 0.05).sum())} / {len(summaries)}",
        "diagnostic: nearest change point to each edge, median / worst": f"{_fmt(np.median(change_points))} / "
                                                                         f"{_fmt(np.max(change_points))}",
        "jump error, median (fraction of sigmoid width)": _fmt(np.median(jumps)),
        "jump error, worst": _fmt(np.max(jumps)),
        "jumps within half a width": f"{int((jumps <= 0.5).sum())} / {len(jumps)}",
        "learned step exact (within one prediction step)": f"{int(learned.ok.sum())} / {len(learned)}",
        "Hessian index exact at plateau midpoints": f"{int(index.ok.sum())} / {len(index)}",
        "correlation p < 0.01 on configs with >= 3 plateaus (escapes, default)": f"{int(rejects.sum())} / {len(required)}",
        "diagnostic: the same against plateau edges": f"{int(rejects_edges.sum())} / {len(required)}",
    }


def markdown_table(frame: pd.DataFrame) -> str:
    cell = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return "inf (missed)" if value == np.inf else f"{value:.3f}"


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the run files here (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="every fifth configuration only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        rows, tables = [], []
        for name, config in sweep_configs(args.quick):
            summary, table = score_one(name, config, folder)
            rows.append(summary)
            tables.append(table)
            print(f"{name}: {summary}", file=os.sys.stderr, flush=True)
    summaries, tables = pd.DataFrame(rows), pd.concat(tables, ignore_index=True)
    print("| quantity | value |\n|---|---|")
    for key, value in pooled(summaries, tables).items():
        print(f"| {key} | {value} |")
    print()
    print(markdown_table(summaries))


if __name__ == "__main__":
    main()
