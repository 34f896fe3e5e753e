"""How a saddle index may be shown: a count only when certified; otherwise its bracket or the SLQ estimate, with
why it is not certified and what would certify it. Every table, headline, figure and report uses these.

Kinds (the row's `index_kind`):
  certified  index_low == index_high: the count (dense eigenvalues, or the certified subspace run);
  bracket    the subspace run hit its cap (or eigenvalues sit within the certified error of the threshold):
             only [index_low, index_high] is known, whatever index_count holds;
  estimate   stochastic Lanczos quadrature: an expected fraction with its error bar, not a count.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

KINDS = ("certified", "bracket", "estimate")


def index_kind(row) -> str:
    """The kind of a Hessian table row (older rows without `index_kind`: certified or bracket by their bounds)."""
    kind = row.get("index_kind") if hasattr(row, "get") else None
    if isinstance(kind, str) and kind in KINDS:
        return kind
    return "certified" if bool(row["index_certified"]) else "bracket"


def index_text(row, n_params: int) -> str:
    """The index as it may be printed: `2,430` (certified), `2,430-40,295` (bracket), `~6.1 % (5.2-7.0 %)`."""
    kind = index_kind(row)
    if kind == "certified":
        return f"{int(round(float(row['index_count']))):,}"
    if kind == "bracket":
        return f"{_ceil(row['index_low']):,}-{_floor(row['index_high']):,}"
    low, high = float(row["index_low"]) / n_params, float(row["index_high"]) / n_params
    return f"~{100 * float(row['index_count']) / n_params:.2g} % ({100 * low:.2g}-{100 * high:.2g} %)"


def _ceil(value) -> int:
    return int(math.ceil(float(value) - 1e-9))


def _floor(value) -> int:
    return int(math.floor(float(value) + 1e-9))


def index_note(kind: str, params, eigenpairs, n_params: int) -> str:
    """Why an index is not a certified count, and what would certify it (empty for a certified one)."""
    if kind == "certified":
        return ""
    if kind == "estimate":
        density = eigenpairs.density
        return (f"SLQ estimate ({density.probes} probes x {density.steps} steps), eigenvalues below "
                f"-{params.estimate_tol:g} x max|eigenvalue|; not certified: certify with --index-method certified "
                f"(a certified run costs up to ~P x rank HVP-equivalents)")
    subspace = eigenpairs.subspace
    if subspace is not None and not subspace.certified:
        cap = min(params.krylov_steps, n_params)
        return (f"not certified: Krylov cap {cap:,} reached; certify with --krylov-steps {n_params:,} (the rank is "
                f"unknown, at most P), up to ~{_duration(eigenpairs.seconds * (n_params / cap) ** 2)} per "
                f"checkpoint, or estimate with --index-method estimate")
    return ("not certified: eigenvalues lie within the certified error of the threshold; a different --index-tol "
            "separates them")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def shown_table(table: pd.DataFrame, n_params: int) -> pd.DataFrame:
    """The Hessian table as printed: the index as text (never a bare count unless certified) and its status."""
    shown = ["step", "role", "lambda_max", "lambda_min", "index", "index_status", "trace", "grad_norm",
             "saddle_candidate", "method", "converged", "max_rel_residual"]
    frame = table.copy()
    if frame.empty:
        return frame.reindex(columns=shown)
    frame["index"] = [index_text(row, n_params) for _, row in frame.iterrows()]
    frame["index_status"] = [index_kind(row) for _, row in frame.iterrows()]
    return frame[[c for c in shown if c in frame]]


def status_summary(table: pd.DataFrame) -> str:
    """One phrase for a headline: how many indices are certified, brackets or estimates, and why."""
    if table.empty:
        return ""
    kinds = [index_kind(row) for _, row in table.iterrows()]
    counts = {kind: kinds.count(kind) for kind in KINDS if kind in kinds}
    if counts == {"certified": len(kinds)}:
        return "index certified at every checkpoint"
    parts = [f"{'certified' if k == 'certified' else 'a bracket' if k == 'bracket' else 'an SLQ estimate'} at "
             f"{n}" for k, n in counts.items()]
    notes = list(dict.fromkeys(str(n) for n in table.get("index_note", pd.Series(dtype=str)) if isinstance(n, str) and n))
    return "index " + ", ".join(parts) + (" (" + "; ".join(notes) + ")" if notes else "")


def fraction_band(table: pd.DataFrame, n_params: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fraction, low, high) of each row, all in [0, 1]; the fraction is NaN for a bracket (no point value)."""
    low = np.clip(table["index_low"].to_numpy(dtype=float) / n_params, 0, 1)
    high = np.clip(table["index_high"].to_numpy(dtype=float) / n_params, 0, 1)
    fraction = np.clip(table["index_count"].to_numpy(dtype=float) / n_params, 0, 1)
    kinds = np.array([index_kind(row) for _, row in table.iterrows()])
    return np.where(kinds == "bracket", np.nan, fraction), low, high
