"""Plateaus sit at saddles: curvature at plateau checkpoints against time-matched (and loss-matched) non-plateau
checkpoints on the log-step grid (saddle_control.py), with the index tolerance as a sensitivity.

Every checkpoint of these networks has negative curvature, so the index count at plateau middles is descriptive
only; the claim is tested against the controls. Rule: "tolerance-dependent" whenever the reading (significant at
alpha and in which direction, or not) differs between index tolerances; otherwise "holds" when plateau checkpoints
have a significantly higher index fraction than the time-matched control (after the family's adjustment) and the
loss-matched control reads the same, "fragile" when only the time-matched control does, "does not hold" when
they have a significantly lower one, "not shown" otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.saddle_control import GRID_PER_DECADE, saddle_control
from analyzer.study.claims.events import run_events
from analyzer.stats import ALPHA, TestRow

GRID_JOB = {"at": "grid", "per_decade": GRID_PER_DECADE}
GRID_COLUMNS = ["step", "index_fraction", "index_kind", "lambda_min", "lambda_max", "index_fraction_tol_1e-08",
                "index_fraction_tol_1e-06", "index_fraction_tol_0.0001", "cost_gradients", "n_hvp", "seconds"]
ROW_COLUMNS = ["step", "role", "index_count", "index_low", "index_high", "lambda_min"]
TIME_ROW = "index fraction at plateau vs time-matched checkpoints (saddle control)"
LAMBDA_ROW = "lambda_min at plateau vs time-matched checkpoints (saddle control)"
LOSS_ROW = "index fraction at plateau vs time- and loss-matched checkpoints (saddle control)"
CONTROL_TEXT = (
    "Each network run's Hessian on a log-spaced grid of checkpoints ({per_decade} per decade, certified index). A grid "
    "point is a plateau point when its step lies in one of the run's change-point plateaus. At each step, plateau "
    "points are compared with the control points of the same group at the same step (runs not in a plateau "
    "there), and in the loss-matched control also within the same half decade of loss; the per-stratum differences "
    "are averaged with weights n_p n_c / (n_p + n_c). 95 % CI: cluster bootstrap (runs resampled within groups); "
    "p: centred bootstrap test, two-sided, adjusted with the family.")


@dataclass(frozen=True)
class Curvature:
    rows: pd.DataFrame | None  # the Hessian at plateau checkpoints (ROW_COLUMNS)
    grid: pd.DataFrame | None  # the Hessian on the log-step grid
    plateaus: np.ndarray  # (n, 2) plateau start and end steps
    loss_steps: np.ndarray
    loss: np.ndarray


def is_network_run(run) -> bool:
    """A job's only_if: the run is not a float-rounding replicate (whose curvature the study never reads)."""
    from analyzer.study.collect import is_replicate

    return not is_replicate(run.config)


class Saddles(Claim):
    id = "saddles"
    observation = "Plateaus sit at saddles"
    rule = ("tested only against non-plateau checkpoints at the same step (and at the same loss level): holds when "
            "plateau checkpoints have a higher index fraction than the time-matched control at alpha after the "
            "family's adjustment and the loss-matched control reads the same; fragile when only the time-matched "
            "one does; tolerance-dependent whenever the index tolerances (1e-8, 1e-6, 1e-4) disagree in significance "
            "or direction; does not hold when plateau checkpoints have a significantly lower index fraction; not "
            "shown otherwise; untested until the control is computed")
    network_runs_only = True

    def jobs(self, options) -> list[ClaimJob]:
        if not options.hessian:
            return []
        return [ClaimJob("hessian", {}, is_network_run), ClaimJob("hessian", dict(GRID_JOB), is_network_run)]

    def extract(self, run, context) -> Curvature | None:
        from analyzer.errors import AnalysisFailed, BadInputError

        if not context.options.hessian:
            return None
        events = run_events(context)
        rows = grid = None
        try:
            table = context.result("hessian").table
            rows = pd.DataFrame(columns=ROW_COLUMNS) if table.empty else table[ROW_COLUMNS].reset_index(drop=True)
        except (BadInputError, AnalysisFailed) as err:
            context.notes.append(f"hessian: {context.one_line(err)}")
        try:
            table = context.result("hessian", **GRID_JOB).table
            grid = table[[c for c in GRID_COLUMNS if c in table]].reset_index(drop=True)
        except (BadInputError, AnalysisFailed) as err:
            context.notes.append(f"hessian at=grid per_decade={GRID_PER_DECADE}: {' '.join(str(err).split())}")
        return Curvature(rows, grid, events.plateaus[["start_step", "end_step"]].to_numpy(np.float64),
                         np.asarray(run.steps, np.float64), np.asarray(run.loss, np.float64))

    def evaluate(self, study) -> dict | None:
        if not study.options.hessian:
            return None
        extracts = study.extracts(self.id)
        control = saddle_control(extracts, study.group_of, min(study.options.n_resamples, 4000), study.options.seed)
        return {"control": control, "described": saddle_description(extracts),
                "quantities": edge_quantities(extracts, study)}

    def tests(self, study, result) -> list[TestRow]:
        control = (result or {}).get("control")
        if not control:
            return []
        return [_row(name, item, control.get("n_runs")) for name, item in
                ((TIME_ROW, control), (LAMBDA_ROW, control["lambda_min"]), (LOSS_ROW, control["loss_matched"]))]

    def verdicts(self, study, result) -> list:
        if result is None:
            return []
        control = result["control"]
        if not control:
            return [self.verdict("untested", result["described"] + "; the time-matched control has not been computed")]
        time_row, loss_row = study.family_row(TIME_ROW), study.family_row(LOSS_ROW)
        verdict = saddle_verdict(time_row, loss_row, control)
        evidence = (f"index fraction at plateau checkpoints {control['plateau']:.4g} vs time-matched control "
                    f"{control['control']:.4g}: difference {control['difference']:+.3g} (95 % cluster-bootstrap CI "
                    f"{control['ci_low']:+.3g} to {control['ci_high']:+.3g}), p = {_g(time_row.p_value)}, adjusted "
                    f"{_g(time_row.p_adjusted)}; loss-matched: difference {control['loss_matched']['difference']:+.3g}"
                    f", adjusted p {_g(loss_row.p_adjusted)}; readings by index tolerance: "
                    + ", ".join(f"{tol}: {r}" for tol, r in control["readings"].items())
                    + f"; uncertified checkpoints left out: {control['uncertified_left_out']['plateau']} plateau, "
                    f"{control['uncertified_left_out']['control']} control; " + result["described"])
        return [self.verdict(verdict, evidence)]

    def section(self, study, result, figs: dict) -> list[str]:
        from analyzer.study.claims.saddle_report import saddle_section

        return saddle_section(study, result, figs, CONTROL_TEXT) if result is not None else \
            ["## Saddles", "", "*Hessian not computed (`--no-hessian`).*", ""]

    def json(self, study, result) -> dict:
        if result is None:
            return {"saddle_control": None}
        control = result["control"]
        if control is not None:  # p_holm: the family's adjusted p (the key of earlier versions)
            rows = {name: study.family_row(name) for name in (TIME_ROW, LAMBDA_ROW)}
            control = dict(control, p_holm=rows[TIME_ROW].p_adjusted if rows[TIME_ROW] else None,
                           lambda_min=dict(control["lambda_min"], p_holm=rows[LAMBDA_ROW].p_adjusted
                                           if rows[LAMBDA_ROW] else None))
        return {"saddle_control": control, "hessian_quantities": result["quantities"]}


    effect_unit = "index fraction at the run's plateau points minus its group's non-plateau points, same step"

    def per_run_effects(self, study, result) -> dict[str, float]:
        from analyzer.study.claims.saddle_control import grid_points, per_run_excess

        return per_run_excess(grid_points(study.extracts(self.id), study.group_of))


def saddle_verdict(time_row: TestRow | None, loss_row: TestRow | None, control: dict) -> str:
    """The rule of the module docstring."""
    if time_row is None or time_row.p_adjusted is None:
        return "untested"
    if not control["stable_across_tolerances"]:
        return "tolerance-dependent"
    higher = time_row.p_adjusted < ALPHA and time_row.effect > 0
    if time_row.p_adjusted < ALPHA and time_row.effect < 0:
        return "does not hold"
    if not higher:
        return "not shown"
    loss_agrees = loss_row is not None and loss_row.p_adjusted is not None and loss_row.p_adjusted < ALPHA \
        and loss_row.effect > 0
    return "holds" if loss_agrees else "fragile"


def _row(name: str, item: dict, n_runs) -> TestRow:
    def finite(value):
        return float(value) if value is not None and np.isfinite(value) else None

    return TestRow(name=name, claim="saddles", reference="non-plateau checkpoints, same step" + (
                       " and loss level" if "loss" in name else ""),
                   null="cluster bootstrap (centred), two-sided", p_value=finite(item.get("p_value")),
                   effect=finite(item.get("difference")), ci_low=finite(item.get("ci_low")),
                   ci_high=finite(item.get("ci_high")), observed=finite(item.get("plateau")),
                   null_mean=finite(item.get("control")), n_runs=int(item.get("n_runs", n_runs) or 0))


def _g(value) -> str:
    return "none" if value is None or not np.isfinite(value) else f"{value:.3g}"


def saddle_description(extracts) -> str:
    """How many plateau middles have index >= 1, from the bounds where the index is not certified."""
    middles = [c.rows[c.rows.role == "middle"] for _, c in extracts if c.rows is not None]
    low = np.concatenate([_bound(m, "index_low") for m in middles]) if middles else np.empty(0)
    high = np.concatenate([_bound(m, "index_high") for m in middles]) if middles else np.empty(0)
    decided = (low >= 1) | (high < 1)
    if not len(low):
        return "no plateau-middle checkpoints analysed"
    if not decided.any():
        return f"the index is not certified at any of the {len(low)} plateau-middle checkpoints: undecided"
    text = (f"descriptive only: {int(np.sum(low[decided] >= 1))} of {int(decided.sum())} plateau-middle checkpoints "
            "have index >= 1, which checkpoints outside plateaus also have")
    if not decided.all():
        text += f" ({int((~decided).sum())} more left out: not certified, their bracket straddles 1)"
    return text


def _bound(rows, column: str) -> np.ndarray:
    return rows[column if column in rows else "index_count"].to_numpy(np.float64)


def edge_quantities(extracts, study) -> pd.DataFrame:
    """Per group: mean index and lambda_min at plateau edges (starts and ends) and middles, with bootstrap CIs."""
    from analyzer.stats import descriptive as st

    rows = []
    for run, curvature in extracts:
        table = curvature.rows if curvature.rows is not None else pd.DataFrame(columns=ROW_COLUMNS)
        row = {"group": study.group_of[run.path]}
        for column, name in (("index_count", "index"), ("lambda_min", "lambda_min")):
            for where, roles in (("edges", ("start", "end")), ("middles", ("middle",))):
                part = table[table.role.isin(roles)]
                row[f"{name} at plateau {where}"] = float(part[column].astype(float).mean()) if len(part) else np.nan
        rows.append(row)
    labels = [f"{n} at plateau {w}" for n in ("index", "lambda_min") for w in ("edges", "middles")]
    if not rows:
        return pd.DataFrame(columns=["group", "quantity", "n", "mean", "ci_low", "ci_high"])
    supports = {f"index at plateau {w}": (0, np.inf) for w in ("edges", "middles")}
    return st.quantity_table(pd.DataFrame(rows), labels, study.options.n_resamples, study.options.seed, supports)


CLAIM = Saddles()
