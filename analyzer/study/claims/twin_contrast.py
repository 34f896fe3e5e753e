"""The twin contrast: is each of Alvarez & Choe's claims specific to the nonlinear network, or does the linearised twin
(the same network's first-order Taylor expansion at init, trained the same way: a convex loss, index 0 everywhere)
show it as much?

For every claim that defines a per-run effect (Claim.per_run_effects), the claim is evaluated once more on the
twins alone (they are swapped, shifted or matched among twins, exactly as the networks are among networks), and
each network's effect is paired with its own twin's (same group, same seed). The paired differences (network minus
twin, in the claim's direction) are tested by flipping their signs (pairs are the units: two-sided) and given a
cluster-bootstrap CI over pairs; every contrast is a row of the study's test family. Reading: "specific to the
nonlinear network" only where the difference is significant after the family's adjustment, in the claim's
direction. The twins' saddle index must be 0 at every certified checkpoint: a check that the pipeline sees no
saddle where there is none.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from analyzer.study.claims.base import Claim
from analyzer.stats import TestRow, mean_interval, sign_flip

CONTRASTED = ("plateaus_appear", "stall", "jumps_near_escapes", "decoupled", "saddles", "escape_directions")


class TwinContrast(Claim):
    id = "twin_contrast"
    observation = "Specific to the nonlinear network (network minus its linearised twin, paired by seed)"
    rule = ("per claim, the network's per-run effect minus its own twin's (same group and seed), in the claim's "
            "direction: specific to the nonlinear network (holds) when the mean paired difference is significant "
            "after the family's adjustment (sign flips over pairs, two-sided) in the claim's direction; does not "
            "hold when the twins show significantly more; not shown otherwise; untested without twins")

    def evaluate(self, study) -> dict | None:
        from analyzer.study.claims import all_claims

        if not study.twin_runs:
            return None
        view = twin_view(study)
        contrasts = {}
        for claim in all_claims():
            if claim.id not in CONTRASTED or claim.id not in study.results:
                continue
            network = claim.per_run_effects(study, study.results[claim.id])
            twin = claim.per_run_effects(view, view.results.get(claim.id))
            if network or twin:
                contrasts[claim.id] = paired_contrast(study, claim, network, twin)
        return {"contrasts": contrasts, "twin_index": twin_index_check(study), "view": view}

    def tests(self, study, result) -> list[TestRow]:
        if result is None:
            return []
        return [row for row in (c["row"] for c in result["contrasts"].values()) if row is not None]

    def verdicts(self, study, result) -> list:
        if result is None:
            return [self.verdict("untested", "no linearised twins among the inputs (`train sweep --linearize no,yes`)")]
        out = []
        from analyzer.study.claims import get

        for claim_id, contrast in result["contrasts"].items():
            observation = f"{get(claim_id).observation}: specific to the nonlinear network"
            out.append(self.row_verdict(study.family_row(contrast["name"]), 1,
                                        f"{contrast['n_pairs']} network-twin pairs with an effect on both sides: "
                                        "nothing to compare", lambda row, c=contrast: contrast_text(c, row),
                                        observation))
        check = result["twin_index"]
        if check["n_points"]:
            out.append(self.verdict("holds" if check["n_nonzero"] == 0 else "does not hold",
                                    f"{check['n_points'] - check['n_nonzero']} of {check['n_points']} certified "
                                    f"checkpoints of {check['n_runs']} twins have index 0 (largest index fraction "
                                    f"{check['max_index_fraction']:.3g})",
                                    "The pipeline sees no saddle in the twins (their loss is convex)",
                                    "holds when every certified checkpoint of every twin has index 0"))
        return out

    def section(self, study, result, figs: dict) -> list[str]:
        from analyzer.study.claims.twin_report import twin_section

        return twin_section(study, result, figs) if result is not None else []

    def json(self, study, result) -> dict:
        if result is None:
            return {"twin_contrast": None}
        return {"twin_contrast": {
            "contrasts": {k: {key: v for key, v in c.items() if key != "row"} for k, c in result["contrasts"].items()},
            "twin_index": result["twin_index"]}}


def twin_view(study):
    """The study with the twins as its network runs (each claim evaluated on them alone, tests not adjusted)."""
    from analyzer.study.claims import all_claims

    twins = [dataclasses.replace(r, config={**r.config, "linearize": False}) for r in study.twin_runs]
    view = dataclasses.replace(study, runs=twins, results={}, family=[], verdicts=[])
    for claim in all_claims():
        if claim.id in CONTRASTED:
            view.results[claim.id] = claim.evaluate(view)
    return view


def paired_contrast(study, claim, network: dict[str, float], twin: dict[str, float]) -> dict:
    """The network-minus-twin differences (in the claim's direction) over the pairs with an effect on both sides."""
    twins = {(study.group_of[r.path], r.seed): r.path for r in study.twin_runs}
    pairs = [(r.path, twins[(study.group_of[r.path], r.seed)]) for r in study.network_runs
             if (study.group_of[r.path], r.seed) in twins]
    pairs = [(n, t) for n, t in pairs if n in network and t in twin
             and math.isfinite(network[n]) and math.isfinite(twin[t])]
    sign = claim.claimed_sign
    differences = np.array([sign * (network[n] - twin[t]) for n, t in pairs])
    groups = [study.group_of[n] for n, _ in pairs]
    name = f"twin contrast: {claim.id} (network minus twin, claimed direction)"
    out = {"claim": claim.id, "name": name, "n_pairs": len(pairs), "unit": claim.effect_unit,
           "network_mean": float(np.mean([network[n] for n, _ in pairs])) if pairs else None,
           "twin_mean": float(np.mean([twin[t] for _, t in pairs])) if pairs else None, "row": None}
    if len(pairs) < 2:
        return out
    effect, p_value = sign_flip(differences, study.options)
    low, high, _ = mean_interval(differences, groups, n_resamples=study.options.n_resamples, seed=study.options.seed)
    out.update(difference=effect, ci_low=low, ci_high=high, p_value=p_value)
    out["row"] = TestRow(name=name, claim="twin_contrast", reference="the same claim in each network's linearised twin",
                         null="sign flips of network-twin differences, two-sided", p_value=p_value, effect=effect,
                         ci_low=low, ci_high=high, observed=out["network_mean"], null_mean=out["twin_mean"],
                         n_runs=len(pairs))
    return out


def twin_index_check(study) -> dict:
    """How many certified grid checkpoints of the twins have index 0 (a twin's Hessian is J0^T J0: PSD)."""
    fractions = []
    runs = 0
    for _, curvature in study.extracts("saddles", study.twin_runs):
        grid = curvature.grid
        if grid is None or grid.empty:
            continue
        runs += 1
        certified = grid.index_kind == "certified" if "index_kind" in grid else np.ones(len(grid), bool)
        fractions += list(grid.index_fraction[certified].astype(float))
    values = np.asarray(fractions, dtype=np.float64)
    return {"n_runs": runs, "n_points": len(values), "n_nonzero": int(np.sum(values > 0)),
            "max_index_fraction": float(values.max()) if len(values) else 0.0}


def contrast_text(contrast: dict, row: TestRow) -> str:
    ci = f" (95 % cluster-bootstrap CI {row.ci_low:+.3g} to {row.ci_high:+.3g})" if row.ci_low is not None else ""
    return (f"{contrast['n_pairs']} network-twin pairs: networks {contrast['network_mean']:+.3g}, twins "
            f"{contrast['twin_mean']:+.3g} ({contrast['unit']}); difference in the claim's direction "
            f"{row.effect:+.3g}{ci}, p = {row.p_value:.3g}, adjusted {row.p_adjusted:.3g}")


CLAIM = TwinContrast()
