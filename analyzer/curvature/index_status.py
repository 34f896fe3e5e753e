"""How a saddle index may be shown: a count only when certified; otherwise its bracket or the SLQ estimate, with
why it is not certified and what would certify it. Every table, headline, figure and report uses these.

Kinds (the row's `index_kind`):
  certified  index_low == index_high == index_count: the count (dense eigenvalues, or the certified subspace run);
  bracket    the subspace run hit its cap (or eigenvalues sit within the certified error of the threshold):
             only [index_low, index_high] is known; index_count, index_expected and index_fraction are NaN;
  estimate   stochastic Lanczos quadrature: index_expected (= index_fraction x P) with its error bar
             [index_low, index_high]; index_count is NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analyzer.core.progress import duration
from analyzer.curvature.cost import REORTH_FLOPS_PER_S

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
    return f"~{100 * float(row['index_expected']) / n_params:.2g} % ({100 * low:.2g}-{100 * high:.2g} %)"


def _ceil(value) -> int:
    return int(math.ceil(float(value) - 1e-9))


def _floor(value) -> int:
    return int(math.floor(float(value) + 1e-9))


def index_note(kind: str, params, eigenpairs, why_estimated: str = "") -> str:
    """Why an index is not a certified count (empty for a certified one)."""
    if kind == "certified":
        return ""
    if kind == "estimate":
        density = eigenpairs.density
        why = f": {why_estimated}" if why_estimated else ""
        return (f"SLQ estimate ({density.probes} probes x {density.steps} steps) of the eigenvalues below "
                f"-{params.estimate_tol:g} x max|eigenvalue|, not certified{why}")
    subspace = eigenpairs.subspace
    if subspace is not None and not subspace.certified:
        return f"not certified: Krylov cap {min(params.krylov_steps, subspace.n):,} reached"
    return "not certified: eigenvalues lie within the certified error of the threshold"


def certify_seconds(kind: str, eigenpairs, n_params: int) -> float:
    """Rough upper bound on the time a certified index would take at this checkpoint (NaN: certified already):
    a subspace of dimension P (the rank is unknown), P HVPs at this checkpoint's cost per HVP (which includes
    its other work) plus the ~2 P^3 flops of full reorthogonalisation."""
    if kind == "certified" or eigenpairs.n_hvp <= 0:
        return float("nan")
    return eigenpairs.seconds / eigenpairs.n_hvp * n_params + 2 * n_params ** 3 / REORTH_FLOPS_PER_S


def certify_hint(table: pd.DataFrame, n_params: int) -> str:
    """What would certify the uncertified rows, with the longest time estimate among them."""
    kinds = [index_kind(row) for _, row in table.iterrows()]
    seconds = table.get("certify_seconds", pd.Series(np.nan, index=table.index)).to_numpy(dtype=float)
    longest = f", up to ~{duration(np.nanmax(seconds))} per checkpoint" if np.isfinite(seconds).any() else ""
    if "bracket" in kinds:
        return (f"certify with --krylov-steps {n_params:,} (the rank is unknown, at most P){longest}, or estimate "
                f"with --index-method estimate")
    if "estimate" in kinds:
        return f"certify with --index-method certified{longest}"
    return ""


def shown_table(table: pd.DataFrame, n_params: int) -> pd.DataFrame:
    """The Hessian table as printed: the index as text (never a bare count unless certified) and its status."""
    shown = ["step", "role", "lambda_max", "lambda_min", "index", "index_status", "trace", "trace_kind", "grad_norm",
             "saddle_candidate", "method", "converged", "max_rel_residual"]
    frame = table.copy()
    if frame.empty:
        return frame.reindex(columns=shown)
    frame["index"] = [index_text(row, n_params) for _, row in frame.iterrows()]
    frame["index_status"] = [index_kind(row) for _, row in frame.iterrows()]
    frame["trace"] = [trace_text(row) for _, row in frame.iterrows()]
    frame["trace_kind"] = [trace_kind(row) for _, row in frame.iterrows()]
    return frame[[c for c in shown if c in frame]]


def trace_kind(row) -> str:
    """How a row's trace was found (trace.py); rows of older versions without it: "estimate" unless
    their index came from every eigenvalue (certified), so an unlabelled trace is never shown as exact."""
    kind = row.get("trace_kind") if hasattr(row, "get") else None
    if isinstance(kind, str) and kind:
        return kind
    return "exact" if index_kind(row) == "certified" and np.isfinite(float(row.get("null_multiplicity", np.nan))) \
        else "estimate"


def trace_text(row) -> str:
    """The trace as it may be printed: `20.78` when exact, `225.9 +- 8.1 (SE)` when an estimate."""
    value = float(row["trace"])
    if trace_kind(row) != "estimate":
        return f"{value:.4g}"
    err = float(row.get("trace_err", np.nan))
    return f"{value:.4g} +- {err:.2g} (SE)"


def trace_summary(table: pd.DataFrame) -> str:
    """One phrase: how many traces are exact (and how), how many estimates, and any probe cap reached."""
    if table.empty or "trace" not in table:
        return ""
    kinds = [trace_kind(row) for _, row in table.iterrows()]
    parts = [f"{kind} at {kinds.count(kind)}" for kind in dict.fromkeys(kinds)]
    capped = sum("cap of --trace-max-probes" in str(note) for note in table.get("trace_note", []))
    cap = f"; the probe cap left the standard error above the target at {capped}" if capped else ""
    return "trace " + ", ".join(parts) + cap


def status_summary(table: pd.DataFrame, n_params: int) -> str:
    """One phrase for a headline: how many indices are certified, brackets or estimates, why, and what would
    certify them."""
    if table.empty:
        return ""
    kinds = [index_kind(row) for _, row in table.iterrows()]
    counts = {kind: kinds.count(kind) for kind in KINDS if kind in kinds}
    if counts == {"certified": len(kinds)}:
        return "index certified at every checkpoint"
    parts = [f"{'certified' if k == 'certified' else 'a bracket' if k == 'bracket' else 'an SLQ estimate'} at "
             f"{n}" for k, n in counts.items()]
    notes = list(dict.fromkeys(str(n) for n in table.get("index_note", pd.Series(dtype=str)) if isinstance(n, str) and n))
    return "index " + ", ".join(parts) + " (" + "; ".join(notes + [certify_hint(table, n_params)]) + ")"


def fraction_band(table: pd.DataFrame, n_params: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fraction, low, high) of each row, all in [0, 1]; the fraction is NaN for a bracket (no point value)."""
    low = np.clip(table["index_low"].to_numpy(dtype=float) / n_params, 0, 1)
    high = np.clip(table["index_high"].to_numpy(dtype=float) / n_params, 0, 1)
    kinds = np.array([index_kind(row) for _, row in table.iterrows()])
    fraction = np.clip(table["index_fraction"].to_numpy(dtype=float), 0, 1)
    return np.where(kinds == "bracket", np.nan, fraction), low, high
