"""Which loss a run's /log holds: the recomputed MSE, or the user's own (a `--losses` CSV column, a logged loss).

A run's loss curve is one series of one loss. The trainer and an import without a CSV log the full-batch MSE
mean((f(x_train) - y_train)^2); a CSV or a user's loop may log anything (an MSE on minibatches, or a loss
with extra terms). Before a CSV column is taken as "the loss" it is compared with the MSE recomputed at the
steps both have: a median relative difference above MSE_TOLERANCE is refused unless the user says which loss
it is (`--loss-kind mse|user`). A user-defined loss is stored as such (`config["loss"]`, docs/run-file.md) and
never spliced with the recomputed MSE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.errors import ConfigError

LOSS_KINDS = ("mse", "user")
# median |csv - mse| / mse at the shared steps above which a column is not the MSE: a minibatch MSE at the same
# parameters (gradients accumulated over the epoch, or one minibatch of a few dozen points) stays well inside
MSE_TOLERANCE = 0.25


@dataclass(frozen=True)
class LossRecord:
    """What /log/loss holds; stored as `config["loss"]` (absent in older files: the MSE)."""

    kind: str  # "mse" (mean((f(x_train) - y_train)^2), perhaps on minibatches) or "user" (the user's own loss)
    column: str | None = None  # the CSV column or the name the user gave; None: recomputed by the trainer
    median_rel_diff: float = math.nan  # median |logged - recomputed MSE| / MSE at the shared steps (NaN: none)

    def to_dict(self) -> dict:
        diff = None if math.isnan(self.median_rel_diff) else float(self.median_rel_diff)
        return {"kind": self.kind, "column": self.column, "median_rel_diff_vs_mse": diff}


def loss_label(record: dict | None) -> str:
    """'training loss (MSE)' or 'training loss (user-defined: NAME)' for a stored `config["loss"]`."""
    record = record or {}
    if record.get("kind") == "user":
        return f"training loss (user-defined: {record.get('column') or 'loss'})"
    return "training loss (MSE)"


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in LOSS_KINDS:
        raise ConfigError(f"loss kind must be one of {', '.join(LOSS_KINDS)}, got {kind!r}")


def median_rel_diff(logged: np.ndarray, mse: np.ndarray) -> float:
    """Median of |logged - mse| / mse over the finite pairs; NaN when there is none."""
    logged, mse = np.asarray(logged, dtype=np.float64), np.asarray(mse, dtype=np.float64)
    ok = np.isfinite(logged) & np.isfinite(mse)
    if not ok.any():
        return math.nan
    return float(np.median(np.abs(logged[ok] - mse[ok]) / np.maximum(np.abs(mse[ok]), 1e-300)))


def decide_kind(column: str, kind: str | None, diff: float, others: dict[str, float] | None = None,
                where: str = "--losses") -> LossRecord:
    """The LossRecord of a logged column, or a one-line refusal when it is not the MSE and nobody said so.

    Args:
        diff: median relative difference of the column from the recomputed MSE (NaN: no shared step).
        others: the same for the CSV's other numeric columns, to point at one that is the MSE.
    """
    check_kind(kind)
    if kind is not None:
        return LossRecord(kind, column, diff)
    if math.isnan(diff):
        raise ConfigError(f"{where} column {column!r} cannot be checked against the recomputed MSE (no step has "
                          f"both a row and a checkpoint); say which loss it holds: --loss-kind mse or --loss-kind user")
    if diff <= MSE_TOLERANCE:
        return LossRecord("mse", column, diff)
    matching = [name for name, value in (others or {}).items() if value <= MSE_TOLERANCE]
    hint = f" (column {matching[0]!r} is: --loss-column {matching[0]})" if matching else ""
    raise ConfigError(f"{where} column {column!r} is not the MSE mean((f(x) - y)^2) recomputed at the checkpoints: "
                      f"median relative difference {diff:.3g} (tolerance {MSE_TOLERANCE:g}); pass --loss-kind user to "
                      f"keep it as your own loss, or --loss-column NAME for a column that holds the MSE{hint}")


def read_loss_log(path: Path | str, column: str = "loss") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(steps, numeric columns by name) from a CSV with a `step` column and `column`, sorted by step."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ConfigError(f"loss log {path}: no such file") from None
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ConfigError(f"loss log {path} is not a readable CSV file ({err})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("step", column) if c not in frame.columns]
    if missing:
        raise ConfigError(f"loss log {path} has no {' and no '.join(missing)} column; it needs step and the loss "
                          f"column (--loss-column; found: {', '.join(map(str, frame.columns))})")
    steps = pd.to_numeric(frame["step"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(steps) | (steps < 0) | (steps != np.round(steps)))
    if len(bad):
        raise ConfigError(f"loss log {path}, data row {bad[0] + 1}: step {frame['step'].iloc[bad[0]]} is not a "
                          f"non-negative integer")
    loss = pd.to_numeric(frame[column], errors="coerce")
    unparsed = np.flatnonzero(loss.isna() & frame[column].notna())  # "nan" (a diverged step) reads as NaN: kept
    if len(unparsed):
        row = int(unparsed[0])
        raise ConfigError(f"loss log {path}, data row {row + 1}: {column} {frame[column].iloc[row]!r} is not a number")
    numeric = {name: pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
               for name in frame.columns if name != "step"}
    numeric = {name: values for name, values in numeric.items() if name == column or np.isfinite(values).any()}
    order = np.argsort(steps, kind="stable")
    steps = steps[order].astype(np.int64)
    repeated = np.flatnonzero(np.diff(steps) == 0)
    if len(repeated):
        raise ConfigError(f"loss log {path} has step {steps[repeated[0]]} more than once")
    return steps, {name: values[order] for name, values in numeric.items()}
