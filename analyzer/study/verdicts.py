"""Which of seed 000's observations hold across seeds: each verdict is computed from the study's statistics by a
rule stated beside it (the `rule` of each verdict, printed in the report and in `--json`).

Properties of single runs "hold" when at least 80 % of the runs that can show them do (each with its exact 95 %
binomial CI), "partly" from 50 %, else "do not hold". Tests use Holm-adjusted p-values across the whole family
the report prints (analyzer/study/robustness.py); the primary test's verdict also needs the specification
curve to agree. A test "holds" when it rejects at ALPHA after adjustment in the claimed direction, is "not
shown" when the effect points the claimed way without significance, and "does not hold" when it points the
other way.
"""

from __future__ import annotations

import math

from analyzer.study import stats as st

ALPHA = 0.05
FRACTION_RULE = "holds when at least 80 % of the runs that can show it do (partly from 50 %)"
TEST_RULE = (f"holds when the test rejects at {ALPHA:g} after Holm's correction across the family, in the claimed "
             "direction; not shown when the effect points that way without significance")


def observations(study) -> list[dict]:
    """One dict per observation: observation, evidence (numbers in words), verdict, rule."""
    runs = study.seed_runs
    if not runs:
        return []
    rows = {r["name"]: r for r in study.family}
    from analyzer.core.registry import study_hooks

    found = [_spectral_bias(study), _plateaus_appear(runs), _stall(study.stall, rows),
             _near_escapes(study), _near_edges(study.tests, rows)]
    for _, hooks in study_hooks():  # the hooked analyses' verdicts (plateaus at saddles)
        found += hooks.observations(study) if hooks.observations is not None else []
    return found


def verdict_rows(study) -> list[dict]:
    """The `verdicts` of `--json`: observation, verdict, rule."""
    return [{k: item[k] for k in ("observation", "verdict", "rule")} for item in study.observations]


def _fraction_evidence(hits: int, total: int, what: str, unit: str = "runs") -> tuple[str, str]:
    fraction, low, high = st.proportion_ci(hits, total)
    return (f"{hits} of {total} {unit} {what} ({100 * fraction:.0f} %, 95 % CI {100 * low:.0f}-{100 * high:.0f} %)",
            st.verdict(fraction))


def _spectral_bias(study) -> dict:
    what = "Spectral bias: lower frequencies are learned first"
    rule = ("order is judged among the frequencies a run learns, strictly (a tie is not order), in runs that learn "
            "at least two; " + FRACTION_RULE)
    row = study.ordering[study.ordering.group == "all"].iloc[0]
    if int(row.runs) == 0:
        return {"observation": what, "evidence": f"no run learns two frequencies ({int(row.excluded)} runs excluded)",
                "verdict": "untested", "rule": rule}
    evidence, verdict = _fraction_evidence(int(row.ordered), int(row.runs),
                                           "learn their learned frequencies in strictly ascending order")
    evidence += f" ({int(row.excluded)} runs that learn fewer than two frequencies excluded)"
    groups = study.ordering[study.ordering.group != "all"]
    failing = groups[groups.fraction < 0.8]
    if len(failing):
        evidence += "; below 80 % in " + ", ".join(f"{g.group} ({g.ordered}/{g.runs})" for g in failing.itertuples())
    flat = groups[groups.group.isin(_equal_amplitude_groups(study))]
    if len(flat):
        evidence += "; with equal amplitudes: " + ", ".join(f"{g.group} {g.ordered}/{g.runs}" for g in flat.itertuples())
    if int(row.ordered_reached) != int(row.ordered):
        evidence += (f". By the step each frequency first reaches the threshold, {int(row.ordered_reached)} of "
                     f"{int(row.runs_reached)} are in ascending order")
    return {"observation": what, "evidence": evidence, "verdict": verdict, "rule": rule}


def _equal_amplitude_groups(study) -> set[str]:
    """Groups whose target has several frequencies, all of one amplitude (the design control of the order)."""
    groups = set()
    for run in study.seed_runs:
        amps = (run.config.get("target") or {}).get("amps") or []
        if len(amps) > 1 and len(set(amps)) == 1:
            groups.add(study.group_of[run.path])
    return groups


def _plateaus_appear(runs) -> dict:
    hits = sum(len(r.plateaus) > 0 for r in runs)
    counts = [len(r.plateaus) for r in runs]
    evidence, verdict = _fraction_evidence(hits, len(runs), "have at least one loss plateau")
    evidence += f"; {min(counts)}-{max(counts)} plateaus per run"
    return {"observation": "Plateaus appear in the loss curve", "evidence": evidence, "verdict": verdict,
            "rule": FRACTION_RULE}


def _test_verdict(p_value, effect_points_the_claimed_way: bool) -> str:
    if p_value is None or not math.isfinite(p_value):
        return "untested"
    if p_value < ALPHA and effect_points_the_claimed_way:
        return "holds"
    return "not shown" if effect_points_the_claimed_way else "does not hold"


def _stall(stall: dict, rows: dict) -> dict:
    what = "Higher-frequency learning stalls during plateaus"
    row = rows.get("higher-frequency jumps inside plateaus (stall)", {})
    if not stall or stall.get("n_jumps", 0) == 0 or row.get("p_adjusted") is None:
        return {"observation": what, "evidence": "no jumps of frequencies above the lowest to test",
                "verdict": "untested", "rule": TEST_RULE}
    evidence = (f"{stall['observed']} of {stall['n_jumps']} jumps of frequencies above the lowest fall inside a "
                f"plateau, against {stall['expected']:.1f} under the {row['null']} null "
                f"(p = {row['p_value']:.3g}, Holm-adjusted {row['p_adjusted']:.3g})")
    fewer = stall["observed"] < stall["expected"]
    return {"observation": what, "evidence": evidence, "verdict": _test_verdict(row["p_adjusted"], fewer),
            "rule": TEST_RULE}


def _effect_text(row: dict) -> str:
    ci = (f", 95 % run-bootstrap CI {row['ci_low']:+.3f} to {row['ci_high']:+.3f}" if row.get("ci_low") is not None
          else "")
    spans_zero = row.get("ci_low") is not None and row["ci_low"] <= 0 <= row["ci_high"]
    return (f"effect {row['effect']:+.3f} decades (observed {row['observed']:.3f} - null mean "
            f"{row['null_mean']:.3f}{ci}{'; the CI includes 0' if spans_zero else ''}), p = {row['p_value']:.3g}, "
            f"Holm-adjusted {row['p_adjusted']:.3g}")


def _near_escapes(study) -> dict:
    from analyzer.study.robustness import SPEC_SHARE, spec_verdict

    what = "Frequency jumps occur near escapes from plateaus (the primary test)"
    rule = (f"holds when the primary test (jumps vs escapes, pooled, {study.options.null} null) rejects at "
            f"{ALPHA:g} after Holm's correction AND at least {SPEC_SHARE:.2g} of the specification curve rejects in "
            "the same direction; fragile when only the primary rejects")
    primary = study.family[0] if study.family else None
    if primary is None or primary["p_adjusted"] is None:
        return {"observation": what, "evidence": "no run has both jumps and escapes: nothing to test, no p-value",
                "verdict": "untested", "rule": rule}
    from analyzer.study.family import detectable_effect

    verdict, agreement = spec_verdict(study.spec_curve, primary, ALPHA)
    evidence = (f"{primary['n_jumps']} jumps in {primary['n_runs']} runs: {_effect_text(primary)}; {agreement}")
    detectable = detectable_effect(primary["ci_low"], primary["ci_high"])
    if detectable is not None:
        evidence += (f"; the study would detect an effect of {detectable:.3f} decades or more with 80 % power "
                     "(normal approximation from the run-bootstrap CI)")
    return {"observation": what, "evidence": evidence, "verdict": verdict, "rule": rule}


def _near_edges(tests: dict, rows: dict) -> dict:
    what = "Frequency jumps occur near plateau edges (secondary)"
    row = rows.get("jumps vs plateau edges")
    if row is None or row["p_adjusted"] is None:
        return {"observation": what, "evidence": "no run has both jumps and plateau edges: no p-value",
                "verdict": "untested", "rule": TEST_RULE}
    evidence = f"{row['n_jumps']} jumps in {row['n_runs']} runs: {_effect_text(row)}"
    return {"observation": what, "evidence": evidence, "verdict": _test_verdict(row["p_adjusted"], row["effect"] < 0),
            "rule": TEST_RULE}
