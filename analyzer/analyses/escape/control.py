"""The control displacement of an escape: a stretch of the same run outside every plateau and every escape whose loss
drops by as much, over as long a span in log-step, as the escape's.

Escape and control are both compared by two numbers of a stretch [a, b] of stored checkpoints: its loss drop in
decades, log10 L(a) - log10 L(b) (L the training loss at the checkpoint: a relative drop), and its span in
decades of log-step, log10(b + 1) - log10(a + 1). Candidate controls lie in the free stretches of the run: no
point of [a, b] is inside a change-point plateau or inside a loss drop (from the plateau's end to the drop's 90 %
point mid + width / 2; the next plateau's start when the width is unknown, else 2 mid - end) or an escape's own
displacement, so a control holds neither a plateau nor an escape, and its loss must fall (a drop > 0). Matching
(`match_factor` f): a quantity matches when the control's value is within a factor f of the escape's. The kind
of control found, best first:
  "drop+span": loss drop and span both match;
  "drop": the loss drop matches, the span does not;
  "unmatched": the run has free stretches with a loss drop but none of matching size;
  "plateau": no free stretch has a loss drop: the best stretch that avoids the loss drops and the escapes'
      displacements but may lie in a plateau (the old control's place; its loss drop rarely matches);
  "none": not even that: no control.
Within the best kind, candidates are ranked by |ln(drop_c / drop_e)| + |ln(span_c / span_e)|. When the kind
matches the loss drop, the escape analysis evaluates the Hessian at a few of their start checkpoints, spread over
the run (`spread_starts`), and keeps the one whose negative-eigenspace dimension is closest to the escape's
(compute.py); otherwise it keeps the best-ranked one (the match comes before the index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("drop+span", "drop", "unmatched", "plateau", "none")
LOSS_MATCHED = ("drop+span", "drop")  # controls whose loss drop matches the escape's: the claim tests these
START_SEPARATION_DECADES = 0.05  # candidate starts evaluated are at least this far apart in log-step


@dataclass(frozen=True)
class Candidate:
    """A control stretch [start, end] of stored checkpoints, its loss drop and span (decades) and its match score."""

    start: int
    end: int
    loss_drop: float
    span: float
    score: float


class Stretches:
    """A run's stored steps, the log10 training loss at each, and the stretches a control may use.

    Args:
        steps: the stored checkpoints (ascending); log_loss: log10 of the training loss at each.
        plateaus: the plateaus analysis' result (change-point plateaus and loss drops).
        windows: the escapes (windows.py), whose own displacements a control never touches.
    """

    def __init__(self, steps: np.ndarray, log_loss: np.ndarray, plateaus, windows: list):
        self.steps = np.asarray(steps, dtype=np.int64)
        self.log_loss = np.asarray(log_loss, dtype=np.float64)
        self._index = {int(s): k for k, s in enumerate(self.steps)}
        spans, drops = blocked_intervals(plateaus, float(self.steps[-1]))
        escapes = drops + [(float(w.plateau_step), float(w.after_step)) for w in windows]
        self.runs, self.relaxed_runs = free_runs(self.steps, spans + escapes), free_runs(self.steps, escapes)

    def measures(self, a: int, b: int) -> dict:
        """The loss drop (decades) and span (decades of log-step) of the stretch from stored step a to b."""
        return {"loss_drop_decades": float(self.log_loss[self._index[a]] - self.log_loss[self._index[b]]),
                "span_decades": float(np.log10((b + 1) / (a + 1)))}

    def candidates(self, loss_drop: float, span: float, match_factor: float) -> tuple[str, list[Candidate]]:
        """(kind, candidates) of a control for an escape of this loss drop and span (control_candidates)."""
        return control_candidates(self.steps, self.log_loss, self.runs, self.relaxed_runs, loss_drop, span,
                                  match_factor)


def blocked_intervals(plateaus, last_step: float) -> tuple[list, list]:
    """([low, high] step intervals of the plateaus (the default detector's), those of the loss drops): a control touches
    neither where it can, and never a loss drop."""
    found = plateaus.plateaus()
    spans = [(float(r.start_step), float(r.end_step)) for r in found.itertuples()]
    drops = []
    for drop in plateaus.loss_drops.itertuples():
        if not np.isfinite(drop.mid_step):
            continue  # the loss leaves the plateau upwards: no drop to keep out
        if np.isfinite(drop.width_steps):
            end = drop.mid_step + drop.width_steps / 2
        elif np.isfinite(drop.start_step):
            end = drop.start_step
        else:
            end = 2 * drop.mid_step - drop.end_step
        drops.append((float(drop.end_step), float(min(max(end, drop.mid_step), last_step))))
    return spans, drops


def free_runs(steps: np.ndarray, blocked: list[tuple[float, float]]) -> list[np.ndarray]:
    """Index ranges of consecutive stored checkpoints with no blocked step anywhere between the first and last."""
    steps = np.asarray(steps, dtype=np.float64)
    if len(steps) == 0:
        return []
    low = np.array([b[0] for b in blocked]) if blocked else np.zeros(0)
    high = np.array([b[1] for b in blocked]) if blocked else np.zeros(0)
    free = ~np.any((steps[:, None] >= low) & (steps[:, None] <= high), axis=1)
    # two neighbours are joined when no blocked interval meets the closed stretch between them
    joined = free[:-1] & free[1:] & ~np.any((low[None, :] <= steps[1:, None]) & (high[None, :] >= steps[:-1, None]),
                                            axis=1)
    runs, current = [], [0] if free[0] else []
    for k in range(1, len(steps)):
        if current and joined[k - 1]:
            current.append(k)
            continue
        if len(current) >= 2:
            runs.append(np.asarray(current))
        current = [k] if free[k] else []
    if len(current) >= 2:
        runs.append(np.asarray(current))
    return runs


def control_candidates(steps: np.ndarray, log_loss: np.ndarray, runs: list[np.ndarray],
                       relaxed_runs: list[np.ndarray], loss_drop: float, span: float,
                       match_factor: float) -> tuple[str, list[Candidate]]:
    """(kind, candidates of that kind, best score first: for each start checkpoint its best-scoring end).

    runs: the free stretches (no plateau, no loss drop); relaxed_runs: those with no loss drop, plateaus allowed,
    searched only when `runs` holds no stretch whose loss falls (kind "plateau")."""
    found = _scan(steps, log_loss, runs, loss_drop, span, np.log(match_factor))
    for kind in KINDS[:3]:
        if found[kind]:
            return kind, _ranked(found[kind])
    relaxed = _scan(steps, log_loss, relaxed_runs, loss_drop, span, np.log(match_factor))
    merged = {**relaxed["unmatched"], **relaxed["drop"], **relaxed["drop+span"]}
    return ("plateau", _ranked(merged)) if merged else ("none", [])


def _ranked(by_start: dict) -> list[Candidate]:
    return sorted(by_start.values(), key=lambda c: (c.score, c.start))


def _scan(steps: np.ndarray, log_loss: np.ndarray, runs: list[np.ndarray], loss_drop: float, span: float,
          tolerance: float) -> dict[str, dict[int, Candidate]]:
    """For each match kind, each start checkpoint's best-scoring stretch of that kind (module docstring)."""
    best: dict[str, dict[int, Candidate]] = {kind: {} for kind in KINDS[:3]}
    logs = np.log10(np.asarray(steps, dtype=np.float64) + 1)
    for members in runs:
        for position, a in enumerate(members[:-1]):
            ends = members[position + 1:]
            drops, spans = log_loss[a] - log_loss[ends], logs[ends] - logs[a]
            keep = drops > 0
            ends, drops, spans = ends[keep], drops[keep], spans[keep]
            drop_error = np.abs(np.log(drops / loss_drop)) if loss_drop > 0 else np.full(len(drops), np.inf)
            span_error = np.abs(np.log(spans / span))
            # an escape whose loss did not fall matches nothing: then the largest drop ranks first
            score = np.where(np.isfinite(drop_error), drop_error, 1e6 - drops) + span_error
            kind = np.where(drop_error <= tolerance, np.where(span_error <= tolerance, 0, 1), 2)
            for k in np.unique(kind):
                pick = np.flatnonzero(kind == k)
                j = pick[np.argmin(score[pick])]
                best[KINDS[k]][int(steps[a])] = Candidate(int(steps[a]), int(steps[ends[j]]), float(drops[j]),
                                                          float(spans[j]), float(score[j]))
    return best


def spread_starts(candidates: list[Candidate], count: int) -> list[Candidate]:
    """Up to `count` candidates, best score first, whose starts lie START_SEPARATION_DECADES apart in log-step (the
    Hessian's index changes slowly along training, so neighbouring starts would give the same dimension)."""
    chosen: list[Candidate] = []
    for candidate in candidates:
        position = np.log10(candidate.start + 1)
        if all(abs(position - np.log10(c.start + 1)) >= START_SEPARATION_DECADES for c in chosen):
            chosen.append(candidate)
        if len(chosen) == count:
            break
    return chosen


def closest_index(options: list[tuple[Candidate, dict]], n_negative: int) -> tuple[Candidate, dict]:
    """Of (candidate, its overlaps) pairs, the one whose Hessian's n_negative is closest to the escape's; a tie goes
    to the better match."""
    return min(options, key=lambda option: (abs(option[1]["n_negative"] - n_negative), option[0].score))
