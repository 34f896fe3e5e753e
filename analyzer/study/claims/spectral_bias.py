"""Spectral bias: lower frequencies (or degrees) are learned first, judged by a rank statistic with ties allowed.

Per network run, Kendall's tau-b between the mode and its learned step (a mode never learned counts at the run length,
after every learned one); two modes learned at the same stored step are a tie, not disorder. The pooled statistic
is the mean tau over runs; its null keeps each run's learned steps and breaks their assignment to modes (a uniform
permutation within each run: no order), its CI is a cluster bootstrap over runs within groups. Alvarez & Choe's design
(amplitudes falling with frequency) and the amplitude control (equal amplitudes) are separate rows: the control
asks whether the order survives when every mode carries the same energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import permutations

import numpy as np
import pandas as pd

from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.events import EVENTS_JOBS, run_events
from analyzer.study.claims.spectral_tables import json_modes
from analyzer.stats import TestRow, mean_interval

CONDITIONS = {"decreasing amplitudes": "amplitudes falling with frequency, Alvarez & Choe's design",
              "equal amplitudes": "every mode of equal amplitude, the amplitude control",
              "other amplitudes": "amplitudes neither equal nor falling with frequency"}
MAX_EXACT_MODES = 7  # up to 7! = 5,040 orders per run are enumerated; more are sampled


@dataclass(frozen=True)
class LearnedSteps:
    modes: np.ndarray  # (K,) ascending
    mode_unit: str
    amplitudes: np.ndarray
    learned_steps: np.ndarray  # NaN: never learned
    first_below_steps: np.ndarray

    @property
    def equal_amplitudes(self) -> bool:
        return len(self.amplitudes) > 1 and bool(np.allclose(self.amplitudes, self.amplitudes[0], rtol=1e-6))

    @property
    def condition(self) -> str:
        """Which amplitude condition the run's target is in (CONDITIONS)."""
        if self.equal_amplitudes:
            return "equal amplitudes"
        return "decreasing amplitudes" if bool(np.all(np.diff(self.amplitudes) <= 0)) else "other amplitudes"


class SpectralBias(Claim):
    id = "spectral_bias"
    observation = "Spectral bias: lower frequencies are learned first"
    rule = ("per run, Kendall's tau-b between mode and learned step (never learned: at the run length; ties are not "
            "disorder), averaged over network runs; holds when the mean is above 0 at alpha after the family's "
            "adjustment (two-sided; null: learned steps permuted among a run's modes); does not hold only for a "
            "significant reversal (mean below 0); not shown otherwise")
    essential = True  # the study's events: a run without them is skipped

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob(name, overrides) for name, overrides in EVENTS_JOBS]

    def extract(self, run, context) -> LearnedSteps:
        events = run_events(context)
        return LearnedSteps(events.modes, events.mode_unit, events.amplitudes, events.learned_steps,
                            events.first_below_steps)

    def evaluate(self, study) -> dict:
        from analyzer.study.claims.spectral_tables import learned_frame, learned_step_table, ordering_frame

        learned = learned_frame(study)
        seeds = [(r, e) for r, e in study.extracts(self.id)]
        taus = order_frame(seeds, study.group_of)
        tests = {condition: rank_test(taus[taus.condition == condition], study.options)
                 for condition in CONDITIONS if (taus.condition == condition).any()}
        return {"learned": learned, "table": learned_step_table(learned[~learned.replicate], study.options),
                "ordering": ordering_frame(seeds, study.group_of), "taus": taus, "tests": tests}

    def tests(self, study, result) -> list[TestRow]:
        return [TestRow(name=_row_name(condition), claim=self.id,
                        reference="learned steps permuted among each run's modes", null="within-run permutation",
                        p_value=test["p_value"], effect=test["mean_tau"], ci_low=test["ci_low"],
                        ci_high=test["ci_high"], observed=test["mean_tau"], null_mean=test["null_mean"],
                        n_runs=test["n_runs"])
                for condition, test in result["tests"].items()]

    def verdicts(self, study, result) -> list:
        out = [self.row_verdict(study.family_row(_row_name(condition)), 1,
                                f"no run learns two modes at different steps ({condition})",
                                lambda row, t=test: _evidence(t, row), f"{self.observation} ({CONDITIONS[condition]})")
               for condition, test in result["tests"].items()]
        return out or [self.verdict("untested", "no network run learns two modes")]

    def section(self, study, result, figs: dict) -> list[str]:
        from analyzer.study.claims.spectral_tables import learned_section

        return learned_section(study, result, figs)

    def json(self, study, result) -> dict:
        presets = {study.group_of[r.path]: r.preset for r in study.runs}
        table = result["table"].assign(preset=result["table"].group.map(presets))
        table = table[["preset", "group", "mode", "n", "n_not_learned", "n_reached_then_lost", "mean", "ci_low",
                       "ci_high", "median"]]
        return {"table": json_modes(table, result["learned"]),
                "ordering": result["ordering"],
                "learning_order": [{"condition": c, **{k: v for k, v in t.items() if k != "null"}}
                                   for c, t in result["tests"].items()]}


def _row_name(condition: str) -> str:
    return f"learning order, {condition}: mean Kendall tau (two-sided)"


def order_frame(seeds, group_of: dict[str, str]) -> pd.DataFrame:
    """Per network run: group, condition, tau-b (NaN: fewer than two distinct learned steps) and its steps."""
    rows = []
    for run, extract in seeds:
        values = np.where(np.isfinite(extract.learned_steps), extract.learned_steps, float(run.n_steps))
        rows.append({"run": run.label, "group": group_of[run.path],
                     "condition": extract.condition,
                     "tau": kendall_tau_b(values), "values": values})
    return pd.DataFrame(rows, columns=["run", "group", "condition", "tau", "values"])


def kendall_tau_b(values: np.ndarray) -> float:
    """Kendall's tau-b between the position (modes ascending, all distinct) and `values` (ties allowed); rows of a
    2-D array are taken one by one. NaN when every value is tied."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    k = values.shape[1]
    upper = np.triu_indices(k, 1)
    signs = np.sign(values[:, None, :] - values[:, :, None])[:, upper[0], upper[1]]  # sign(v_j - v_i), i < j
    pairs = k * (k - 1) / 2
    tied = np.sum(signs == 0, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = signs.sum(axis=1) / np.sqrt(pairs * (pairs - tied))
    return float(tau[0]) if tau.shape[0] == 1 else tau


def rank_test(taus: pd.DataFrame, options) -> dict:
    """Mean tau over runs with a defined tau; two-sided p from permutations of each run's learned steps among its
    modes (the direction is the mean's sign)."""
    known = taus[np.isfinite(taus.tau.to_numpy(np.float64))]
    out = {"n_runs": len(known), "n_excluded": len(taus) - len(known), "mean_tau": None, "ci_low": None,
           "ci_high": None, "p_value": None, "null_mean": None,
           "n_ordered": int(np.sum(known.tau.to_numpy(np.float64) >= 1 - 1e-12))}
    if known.empty:
        return out
    rng = np.random.default_rng(options.seed)
    draws = np.mean([_null_taus(v, options.n_permutations, rng) for v in known["values"]], axis=0)
    observed = float(known.tau.mean())
    low, high, _ = mean_interval(known.tau.to_numpy(np.float64), list(known.group), n_resamples=options.n_resamples,
                                 seed=options.seed, support=(-1.0, 1.0))  # a tau lies in [-1, 1]
    upper = (1 + np.sum(draws >= observed - 1e-12)) / (1 + len(draws))
    lower = (1 + np.sum(draws <= observed + 1e-12)) / (1 + len(draws))
    out.update(mean_tau=observed, ci_low=low, ci_high=high, null_mean=float(draws.mean()),
               p_value=float(min(1.0, 2 * min(upper, lower))))
    return out


def _null_taus(values: np.ndarray, n_draws: int, rng) -> np.ndarray:
    """tau-b of n_draws uniformly permuted copies of `values` (exactly enumerated orders, sampled)."""
    k = len(values)
    if k <= MAX_EXACT_MODES:
        orders = np.array(list(permutations(range(k))))
        every = kendall_tau_b(values[orders])
        return np.atleast_1d(every)[rng.integers(len(orders), size=n_draws)]
    return np.atleast_1d(kendall_tau_b(rng.permuted(np.tile(values, (n_draws, 1)), axis=1)))


def _evidence(test: dict, row: TestRow) -> str:
    text = (f"mean Kendall tau-b {test['mean_tau']:+.2f} over {test['n_runs']} network runs (95 % cluster-bootstrap CI "
            f"{_g(test['ci_low'])} to {_g(test['ci_high'])}; no order gives {test['null_mean']:+.2f}), "
            f"p = {row.p_value:.3g}, adjusted {row.p_adjusted:.3g}; {test['n_ordered']} of {test['n_runs']} runs in "
            "fully ascending order (ties allowed)")
    if test["n_excluded"]:
        text += f"; {test['n_excluded']} runs left out (every mode learned at one step, or none learned)"
    return text


def _g(value) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.2f}"


CLAIM = SpectralBias()
