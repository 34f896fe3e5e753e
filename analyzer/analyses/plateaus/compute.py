"""Loss plateaus: change points of log10(loss) on a log-step axis, and Alvarez & Choe's slope-threshold method.

Time axis. Both methods work on u = log10(step + 1). A power-law decay, loss ~ step^-a, has the constant
slope -a there, so "flat relative to its neighbours" is scale-free; on a linear axis a smooth decay is cut
into a staircase (Pelt with a piecewise-constant cost gave 9-59 change points per preset). Slopes are in
decades of loss per decade of steps. Edges are still reported in steps, refined at full resolution.

Pipeline (linear in the number of steps, nothing n x n):
1. despike: a running median of `window` steps removes Adam's isolated spikes (up to ~25 steps wide at
   lr 0.01) and, unlike a mean, leaves monotone trends and sudden level shifts where they are;
2. bin: medians of the despiked curve in bins of 1/points_per_decade decade (empty bins dropped), a few
   hundred points even for 100k steps; early on a bin is one step, so the initial transient keeps its
   full resolution;
3. change points: ruptures Pelt (exact penalized optimum, jump=1) with a piecewise-linear least-squares
   cost in O(1) per segment from prefix sums; the penalty is `penalty` x 3 sigma^2 log(n), sigma a robust
   noise estimate (MAD of second differences: first differences contain the slope, which is the signal);
4. refine: each change point moves to the best split at full step resolution within +-2 bins of its
   grid position (exact optimum given its neighbours), so binning does not move edges by a bin; then each
   plateau end, and the start of the plateau that follows, moves to the 10/90 % points of a logistic fitted
   to the loss drop between them (loss_drops.py): the corners of a line fit bend over a smooth
   drop early, by ~5 % of the plateau length on the known-answer runs (bench/RESULTS.md);
5. gradient method (Alvarez & Choe's): slope of a local line fit over `slope_window` decades; a plateau is a
   run of |slope| <= slope_threshold lasting at least `min_duration` decades.
A segment is flat when |slope| <= slope_threshold, or, between two steeper segments, when |slope| is at
most `relative_slope` times the gentler neighbour's (a late plateau between escapes spans a few tenths of a
decade, so the tail of the previous escape alone gives it slopes of -0.2 to -0.5, against -3 to -40 for
the escapes). A maximal run of flat segments lasting at least `min_duration` decades is a plateau.
Plateau edges are the interior boundaries of maximal plateau runs: a start is the first plateau step, an
end the first step after it; the run's own first and last steps are never edges.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.plateaus.detectors import AGREEMENT_DETECTOR, DEFAULT_DETECTOR, DETECTORS
from analyzer.analyses.plateaus.loss_curve import prepare
from analyzer.analyses.plateaus.params import PlateauParams
from analyzer.analyses.plateaus.result import EDGE_COLUMNS, SEGMENT_COLUMNS, PlateauResult


def compute(run, params: PlateauParams, deps=None) -> PlateauResult:
    """Plateaus of a run's training loss (labelled when it is the user's own loss, not the MSE)."""
    from dataclasses import replace

    from trainer.runfile.loss_log import loss_label

    result = detect_plateaus(run.steps, run.loss, params)
    label = loss_label(run.config.get("loss"))
    return result if label == loss_label(None) else replace(result, loss_label=label)


def detect_plateaus(steps: np.ndarray, loss: np.ndarray, params: PlateauParams | None = None) -> PlateauResult:
    """Plateaus of `loss` (one value per step) by every detector (plateaus/detectors.py)."""
    params = params if params is not None else PlateauParams()
    curve, note = prepare(np.asarray(steps), np.asarray(loss), params)
    found = {name: detector.detect(curve, params) for name, detector in DETECTORS.items()}
    segments = pd.concat([detection.segments for detection in found.values()], ignore_index=True)[SEGMENT_COLUMNS]
    last_step = int(curve.steps[-1])
    edges_found = pd.concat([plateau_edges(detection.segments, name, last_step) for name, detection in found.items()],
                            ignore_index=True)
    agreement = edge_agreement(_steps_of(edges_found, DEFAULT_DETECTOR), _steps_of(edges_found, AGREEMENT_DETECTOR),
                               params.tolerance)
    default = found[DEFAULT_DETECTOR]
    return PlateauResult(segments=segments, plateau_edges=edges_found, change_points=default.change_points,
                         agreement=agreement, loss_drops=default.loss_drops, noise_sigma=float(curve.sigma),
                         n_steps_used=int(len(curve.steps)), note=note)


def _steps_of(edges: pd.DataFrame, method: str) -> np.ndarray:
    return np.unique(edges.loc[edges.method == method, "step"].to_numpy(dtype=np.int64))


def plateau_edges(segments: pd.DataFrame, method: str, last_step: int) -> pd.DataFrame:
    """Starts and ends of maximal runs of plateau segments, excluding the run's own first and last step."""
    rows = []
    flags = segments.is_plateau.to_numpy(dtype=bool)
    for i, row in enumerate(segments.itertuples(index=False)):
        if not flags[i]:
            continue
        if i > 0 and not flags[i - 1]:
            rows.append((method, int(row.start_step), "start"))
        if i + 1 < len(flags) and not flags[i + 1] and row.end_step < last_step:
            rows.append((method, int(row.end_step) + 1, "end"))
    frame = pd.DataFrame(rows, columns=EDGE_COLUMNS)
    return frame.astype({"step": np.int64})


def edge_agreement(reference: np.ndarray, other: np.ndarray, tolerance_decades: float) -> dict:
    """One-to-one matching of edge steps within a log-step tolerance (greedy by distance)."""
    ref_u = np.log10(np.asarray(reference, dtype=np.float64) + 1.0)
    oth_u = np.log10(np.asarray(other, dtype=np.float64) + 1.0)
    pairs = sorted((abs(a - b), i, j) for i, a in enumerate(ref_u) for j, b in enumerate(oth_u)
                   if abs(a - b) <= tolerance_decades)
    used_i, used_j, distances = set(), set(), []
    for dist, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            distances.append(abs(int(reference[i]) - int(other[j])))
    matched = len(distances)
    total = len(ref_u) + len(oth_u)
    return {
        "changepoint_edges": len(ref_u), "gradient_edges": len(oth_u), "matched": matched,
        "f1": 2.0 * matched / total if total else 1.0,
        "median_distance_steps": float(np.median(distances)) if distances else float("nan"),
        "tolerance_decades": tolerance_decades,
    }
