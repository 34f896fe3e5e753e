"""Mechanism vs identity: do jumps sit near escapes beyond what a frequency's own learning puts into the loss?

The loss is the sum of the frequency residuals (Parseval, the evaluation grid being the training grid), so a
frequency being learned is itself a loss drop. For every frequency that jumps, the plateaus are re-detected on the
loss with that frequency's own residual energy removed, L(t) - (r_k(t) a_k)^2 / 2 (r_k its relative error, a_k its
target amplitude), and that curve's escapes are the references of that frequency's jumps (the decoupled test).

The paired test compares the two on the same units: per run, the same jumps (those with decoupled references)
measured against the escapes and against the decoupled escapes, each as observed minus null mean; the per-run
differences are pooled (sum over runs / jumps), tested by flipping their signs (runs are the units) and given a
cluster-bootstrap CI. A significant difference says how much of the primary association the identity builds in.
Removing frequency k's residual energy also removes a saddle signal if the escape *is* the learning of k, so the
decoupled test is conservative for a mechanism, not a test against one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.jump_tests import unit
from analyzer.study.claims.events import EVENTS_JOBS, run_events
from analyzer.stats import ALPHA, TestRow, mean_interval, sign_flip
from analyzer.study.pooled import jump_test

DECOUPLED = "jumps vs escapes of the loss without the jumping frequency"
PAIRED = "primary minus decoupled effect, same jumps (paired by run)"
FLOOR = 1e-3  # the decoupled loss is kept above this fraction of the loss (rounding of the two sums)


@dataclass(frozen=True)
class DecoupledEvents:
    jumps: np.ndarray
    jump_modes: np.ndarray
    escapes: np.ndarray
    decoupled: dict  # mode -> escapes of the loss without that mode's residual energy
    span: tuple[int, int]


class Decoupled(Claim):
    id = "decoupled"
    observation = "Frequency jumps occur near escapes of the loss without the jumping frequency (beyond the identity)"
    rule = ("holds when jumps vs the decoupled escapes (two-sided) rejects at alpha after the family's adjustment "
            "with jumps closer; does not hold when they sit significantly farther; not shown otherwise")
    network_runs_only = True

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob(name, overrides) for name, overrides in EVENTS_JOBS]

    def extract(self, run, context) -> DecoupledEvents:
        events = run_events(context)
        return DecoupledEvents(events.jump_steps, events.jump_modes, events.escape_steps,
                               decoupled_escapes(run, context.result("spectrum")), events.span)

    def evaluate(self, study) -> dict:
        options, seeds = study.options, study.extracts(self.id)
        units = [unit(r, f"{study.group_of[r.path]} {mode:g}", e.jumps[e.jump_modes == mode], refs, e.span,
                      f"{r.label} {mode:g}", labels=e.jump_modes[e.jump_modes == mode], cluster=r.label,
                      stratum=study.group_of[r.path])
                 for r, e in seeds for mode, refs in e.decoupled.items()]
        counts = {g: sum(u["group"] == g and len(u["refs"]) > 0 for u in units) for g in {u["group"] for u in units}}
        kept = [u for u in units if counts[u["group"]] >= 2]
        row = jump_test(DECOUPLED, self.id, "decoupled escapes", kept, options, two_sided=True)
        left = sorted(g for g, n in counts.items() if n < 2)
        if left:
            row = _with_note(row, f"left out (fewer than two runs with decoupled escapes): {', '.join(left)}")
        return {"decoupled": row, "paired": paired_test(study, seeds, kept, row)}

    def tests(self, study, result) -> list[TestRow]:
        return [result["decoupled"], result["paired"]]

    def verdicts(self, study, result) -> list:
        out = [self.row_verdict(study.family_row(DECOUPLED), -1, "no run has decoupled escapes for a jumping frequency",
                                lambda row: f"{row.n_jumps} jumps in {row.n_runs} run x frequency units: effect "
                                            f"{row.effect:+.3f} decades, p = {row.p_value:.3g}, adjusted "
                                            f"{row.p_adjusted:.3g}")]
        observation = ("The association with escapes is partly built in: removing the jumping frequency's own "
                       "residual energy weakens it")
        rule = ("holds when the paired difference (primary minus decoupled effect on the same jumps; negative: the "
                "association is stronger with the frequency's own energy in the loss) is below 0 at alpha after the "
                "family's adjustment (sign-flip test over runs); does not hold when it is significantly above 0; "
                "not shown otherwise")
        out.append(self.row_verdict(study.family_row(PAIRED), -1, "no run has jumps with both kinds of escapes",
                                    paired_text, observation, rule))
        return out

    def section(self, study, result, figs: dict) -> list[str]:
        paired = study.family_row(PAIRED)
        text = (paired_text(paired) + ". " + _reading(paired)) if paired and paired.p_adjusted is not None else \
            "No run has jumps with both kinds of escapes: the paired test is not computed."
        return ["## Mechanism vs identity: decoupled escapes", "",
                "The loss is the sum of the frequency residuals, so a frequency being learned is itself a loss drop. "
                "The decoupled test re-detects plateaus on the loss with the jumping frequency's own residual energy "
                "removed ((relative error x amplitude)^2 / 2 from the spectrum) and tests each frequency's jumps "
                "against that curve's escapes. The paired test compares both effects on the same jumps, run by run.",
                "", text[0].upper() + text[1:], ""]

    def json(self, study, result) -> dict:
        paired = study.family_row(PAIRED)
        return {"paired_primary_vs_decoupled": paired.as_json() | {"n_runs": paired.n_runs, "n_jumps": paired.n_jumps}
                if paired else None}


    claimed_sign = -1
    effect_unit = "decades (observed - null mean distance per jump, decoupled escapes)"

    def per_run_effects(self, study, result) -> dict[str, float]:
        from analyzer.study.claims.jump_tests import per_run_effects

        return per_run_effects(result["decoupled"], {r.label: r.path for r in study.runs})


def paired_text(row: TestRow) -> str:
    ci = f" (95 % cluster-bootstrap CI {row.ci_low:+.3f} to {row.ci_high:+.3f})" if row.ci_low is not None else ""
    return (f"on the same {row.n_jumps} jumps in {row.n_runs} runs, the primary effect minus the decoupled effect is "
            f"{row.effect:+.3f} decades{ci}, p = {row.p_value:.3g} (sign flips over runs), adjusted "
            f"{row.p_adjusted:.3g}")


def _reading(row: TestRow) -> str:
    if row.p_adjusted < ALPHA and row.effect < 0:
        return ("Removing the jumping frequency's own residual energy weakens the association significantly: part of "
                "the primary effect is the identity (a frequency's learning is a loss drop), not evidence of a "
                "mechanism")
    if row.p_adjusted < ALPHA:
        return "The association is significantly stronger against the decoupled escapes than against the escapes"
    return ("The paired test does not separate the two effects: this study cannot say how much of the primary "
            "association the identity builds in")


def _with_note(row: TestRow, note: str) -> TestRow:
    import dataclasses

    return dataclasses.replace(row, notes=(*row.notes, note))


def paired_test(study, seeds, decoupled_units: list[dict], decoupled: TestRow) -> TestRow:
    """The primary and the decoupled effect on the same jumps, per run, compared by sign flips (module docstring)."""
    options = study.options
    kept = {u["name"] for u in decoupled_units}
    matched = []
    for r, e in seeds:
        modes = [m for m, refs in e.decoupled.items() if len(refs) and f"{r.label} {m:g}" in kept]
        jumps = e.jumps[np.isin(e.jump_modes, modes)]
        matched.append(unit(r, study.group_of[r.path], jumps, e.escapes, e.span,
                            labels=e.jump_modes[np.isin(e.jump_modes, modes)]))
    primary = jump_test("primary on matched jumps", "decoupled", "escapes", matched, options)
    sums: dict[str, list[float]] = {}  # run -> [primary - decoupled effect sum, primary jumps, decoupled jumps]
    for row, sign in ((primary, 1.0), (decoupled, -1.0)):
        for part, name in zip(row.details["per_run"], row.details["unit_names"]):
            run = name.rsplit(" ", 1)[0] if sign < 0 else name
            entry = sums.setdefault(run, [0.0, 0.0, 0.0])
            entry[0] += sign * (part["observed_sum"] - part["null_sum"])
            entry[1 if sign > 0 else 2] += part["n_jumps"]
    both = {run: v for run, v in sums.items() if v[1] > 0 and v[1] == v[2]}  # the same jumps on both sides
    groups = {r.label: study.group_of[r.path] for r, _ in seeds}
    differences = np.array([v[0] for v in both.values()])
    counts = np.array([v[1] for v in both.values()])
    effect, p_value = sign_flip(differences, options, total=counts.sum())
    per_jump = differences / np.maximum(counts, 1)  # the pooled difference is their mean weighted by jumps
    low, high, _ = mean_interval(per_jump, [groups[k] for k in both], weights=counts,
                                 n_resamples=options.n_resamples, seed=options.seed)
    return TestRow(name=PAIRED, claim="decoupled", reference="decoupled effect on the same jumps",
                   null="sign flips of per-run differences, two-sided", p_value=p_value, effect=effect, ci_low=low,
                   ci_high=high, n_runs=len(both), n_jumps=int(counts.sum()) if len(counts) else 0)


def decoupled_escapes(run, spectrum) -> dict[float, np.ndarray]:
    """Per target mode with at least one jump: the escapes of the loss without that mode's residual energy."""
    from analyzer.analyses.plateaus.compute import detect_plateaus
    from analyzer.analyses.spectrum.result import MODE_WORDS

    steps, loss = np.asarray(run.steps, np.float64), np.asarray(run.loss, np.float64)
    mode = spectrum.mode_name
    amplitudes = spectrum.learning.set_index(mode)[MODE_WORDS[mode][2][2]]
    out = {}
    for k, freq in enumerate(np.asarray(spectrum.target_modes, np.float64)):
        if not np.any(spectrum.jumps[mode].to_numpy(np.float64) == freq):
            continue
        energy = 0.5 * (np.asarray(spectrum.rel_error[:, k], np.float64) * float(amplitudes.loc[freq])) ** 2
        removed = loss - np.interp(steps, np.asarray(spectrum.steps, np.float64), energy)
        curve = np.maximum(removed, FLOOR * loss)
        out[float(freq)] = np.asarray(detect_plateaus(steps, curve).loss_drop_steps(), np.float64)
    return out


CLAIM = Decoupled()
