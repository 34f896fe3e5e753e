"""The study's tests built from run summaries: the family (primary, secondary, decoupled plateaus, no initial
transient, stall) and the specification curve, with the rule by which a verdict holds.

Specification curve (issue 21 item 6): the primary test recomputed over plateau detector (change points:
jumps vs escapes; gradient method: jumps vs plateau ends), learned threshold (0.05 / 0.1 / 0.2) and event
definition (every detected jump; the learned step; the first step below the threshold), and with each
float-rounding replicate in place of its seed run. Rule: the jump-escape coupling *holds* when the primary
test rejects at alpha after Holm's correction across the family AND at least SPEC_SHARE of the specifications
reject at alpha (unadjusted) with the effect pointing the same way; it is *fragile* when the primary rejects
but the specifications do not agree.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from analyzer.core.registry import study_hooks
from analyzer.study.family import PRIMARY, holm, jump_test, stall_swap_test
TRANSIENT_STEPS = 20  # jumps before this step are the initial transient (item 5's sensitivity test)
SPEC_SHARE = 2 / 3
THRESHOLDS = (0.05, 0.1, 0.2)  # the learned thresholds of the specification curve
SPEC_DRAWS, SPEC_RESAMPLES = 999, 2000
DETECTORS = {"changepoint": "escapes", "gradient": "plateau ends (gradient method)"}
EVENTS = ("jump", "learned step", "first reached")


def _unit(run, group: str, jumps, refs, name: str | None = None) -> dict:
    return {"jumps": np.asarray(jumps, np.float64), "refs": np.asarray(refs, np.float64), "group": group,
            "span": (run.first_pred_step, run.last_pred_step), "name": name or run.label}


def family(study) -> list[dict]:
    """Every test the report prints, Holm-adjusted together; the first row is the primary test."""
    runs, group_of, options = study.seed_runs, study.group_of, study.options
    escape_units = [_unit(r, group_of[r.path], r.jump_steps, r.escape_steps) for r in runs]
    edge_units = [_unit(r, group_of[r.path], r.jump_steps, r.edge_steps) for r in runs]
    rows = [jump_test(PRIMARY, "escapes", escape_units, options, primary=True),
            jump_test("jumps vs plateau edges", "edges", edge_units, options)]
    for group in study.groups:
        for name, units in (("escapes", escape_units), ("edges", edge_units)):
            members = [u for u in units if u["group"] == group]
            if members:
                rows.append(jump_test(f"{group}: jumps vs {name}", name, members, options))
    rows.append(jump_test(f"jumps at step >= {TRANSIENT_STEPS} vs escapes", "escapes",
                          [dict(u, jumps=u["jumps"][u["jumps"] >= TRANSIENT_STEPS]) for u in escape_units], options))
    rows.append(decoupled_test(runs, group_of, options))
    rows.append(stall_row(study))
    for _, hooks in study_hooks():  # the hooked analyses' rows (the saddle control, the escape directions)
        rows += hooks.family_rows(study) if hooks.family_rows is not None else []
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows])):
        row["p_adjusted"] = adjusted
    return rows


def decoupled_test(runs, group_of, options) -> dict:
    """Each frequency's jumps vs the escapes of the loss without that frequency's residual energy."""
    units = [_unit(r, f"{group_of[r.path]} {freq:g} Hz", r.jump_steps[r.jump_freqs_hz == freq], refs,
                   f"{r.label} {freq:g} Hz")
             for r in runs for freq, refs in r.decoupled.items()]
    counts = {g: sum(u["group"] == g and len(u["refs"]) > 0 for u in units) for g in {u["group"] for u in units}}
    kept = [u for u in units if counts[u["group"]] >= 2]
    row = jump_test("jumps vs escapes of the loss without the jumping frequency", "decoupled escapes", kept, options)
    left = sorted(g for g, n in counts.items() if n < 2)
    if left:
        row["notes"].append(f"left out (fewer than two runs with decoupled escapes): {', '.join(left)}")
    return row


def bootstrap_row(name, reference, p_value, effect, ci_low, ci_high, observed, control, n_runs) -> dict:
    """A family row of a run-bootstrap comparison (no jumps, no permutation null): effect = observed - control."""
    return {"name": name, "reference": reference, "null": "run bootstrap (centred)", "p_value": _finite(p_value),
            "p_adjusted": None, "effect": _finite(effect), "ci_low": _finite(ci_low), "ci_high": _finite(ci_high),
            "primary": False, "observed": _finite(observed), "null_mean": _finite(control), "n_runs": n_runs,
            "n_jumps": 0, "notes": [], "per_run": [], "unit_groups": []}


def stall_row(study) -> dict:
    """The stall test as a family row: fewer higher-frequency jumps inside plateaus than under the null."""
    stall = study.stall
    return {"name": "higher-frequency jumps inside plateaus (stall)", "reference": "plateau intervals",
            "null": study.options.null if study.options.null == "swap" else "log-uniform",
            "p_value": _finite(stall.get("p_value")), "p_adjusted": None, "effect": _finite(stall.get("effect")),
            "ci_low": None, "ci_high": None, "primary": False, "observed": stall.get("observed"),
            "null_mean": _finite(stall.get("expected")),
            "n_runs": sum(len(u["jumps"]) > 0 for u in stall_units(study.seed_runs, study.group_of)),
            "n_jumps": int(stall.get("n_jumps", 0)), "notes": [], "per_run": [], "unit_groups": []}


def stall_units(runs, group_of) -> list[dict]:
    return [{"jumps": r.jump_steps[r.jump_freqs_hz > r.freqs_hz.min()] if len(r.freqs_hz) else r.jump_steps,
             "intervals": r.plateaus[["start_step", "end_step"]].to_numpy(), "group": group_of[r.path],
             "name": r.label} for r in runs]


def swap_stall(runs, group_of, options) -> dict:
    return stall_swap_test(stall_units(runs, group_of), options)


def _finite(value):
    return float(value) if value is not None and np.isfinite(value) else None


# ---- specification curve ---------------------------------------------------------------------------

def _events(run, event: str, threshold: float) -> np.ndarray:
    spec = run.spec
    if event == "jump":
        return spec.get(f"jumps/{threshold:g}", run.jump_steps)
    values = spec.get(f"{'learned' if event == 'learned step' else 'reached'}/{threshold:g}",
                      run.learned_steps if event == "learned step" else run.first_below_or_learned_steps)
    return values[np.isfinite(values)]


def specification_curve(study) -> list[dict]:
    """One row per specification: detector, threshold, event, runs (seeds or a replicate), p, effect, CI."""
    options = dataclasses.replace(study.options, n_permutations=min(study.options.n_permutations, SPEC_DRAWS),
                                  n_resamples=min(study.options.n_resamples, SPEC_RESAMPLES))
    rows = []
    for detector in DETECTORS:
        for threshold in THRESHOLDS:
            for event in EVENTS:
                units = [_unit(r, study.group_of[r.path], _events(r, event, threshold),
                               r.escape_steps if detector == "changepoint" else r.spec.get("ends/gradient", []))
                         for r in study.seed_runs]
                rows.append(_spec_row(units, options, detector, threshold, event, "seeds"))
    for replicate, runs in replicate_swaps(study).items():
        units = [_unit(r, study.group_of[r.path], r.jump_steps, r.escape_steps) for r in runs]
        rows.append(_spec_row(units, options, "changepoint", 0.1, "jump", f"replicate {replicate}"))
    return rows


def _spec_row(units, options, detector, threshold, event, runs) -> dict:
    test = jump_test("specification", DETECTORS[detector], units, options)
    primary = detector == "changepoint" and threshold == 0.1 and event == "jump" and runs == "seeds"
    return {"detector": detector, "threshold": threshold, "event": event, "runs": runs, "primary": primary,
            **{k: test[k] for k in ("p_value", "effect", "ci_low", "ci_high", "n_runs", "n_jumps")}}


def replicate_swaps(study) -> dict[int, list]:
    """Per replicate number r: the seed runs with each replicated seed run replaced by its replicate r."""
    by_key = {(study.group_of[r.path], r.seed): r for r in study.seed_runs}
    numbers = sorted({int(r.config.get("perturb_seed", 0)) for r in study.replicate_runs})
    out = {}
    for number in numbers:
        swapped = dict(by_key)
        for r in study.replicate_runs:
            key = (study.group_of[r.path], r.seed)
            if int(r.config.get("perturb_seed", 0)) == number and key in swapped:
                swapped[key] = r
        out[number] = list(swapped.values())
    return out


def spec_verdict(rows: list[dict], primary: dict, alpha: float) -> tuple[str, str]:
    """(verdict, evidence) of the coupling by the stated rule (module docstring)."""
    if primary["p_adjusted"] is None:
        return "untested", "no run has both jumps and escapes"
    closer = primary["effect"] is not None and primary["effect"] < 0
    agree = sum(r["p_value"] is not None and r["p_value"] < alpha and r["effect"] is not None
                and (r["effect"] < 0) == closer for r in rows)
    evidence = f"{agree} of {len(rows)} specifications reject at {alpha:g} in the direction of the primary effect"
    if primary["p_adjusted"] < alpha:
        if not closer:
            return "does not hold", evidence + "; jumps sit farther from escapes than under the null"
        return ("holds" if agree >= SPEC_SHARE * len(rows) else "fragile"), evidence
    return ("not shown" if closer else "does not hold"), evidence
