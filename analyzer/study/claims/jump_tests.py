"""What the claims about jumps and loss-curve references share: per-run events, the pooled test's units, the per-group
breakdown (descriptive, outside the family) and the words of an effect."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.stats import MIN_RUNS_FOR_CI, TestRow
from analyzer.study.pooled import jump_test




@dataclass(frozen=True)
class JumpEvents:
    """One run's jumps and the reference points they are compared with."""

    jumps: np.ndarray
    jump_modes: np.ndarray
    references: np.ndarray
    span: tuple[int, int]


def unit(run, group: str, jumps, references, span, name: str | None = None, labels=None, **extra) -> dict:
    """A unit of a pooled jump test (analyzer/study/pooled.py): a run, or one frequency of a run (`extra`: its
    cluster, the run, and stratum, the run's group)."""
    jumps = np.asarray(jumps, np.float64)
    return {"jumps": jumps, "refs": np.asarray(references, np.float64), "group": group, "span": tuple(span),
            "name": name or run.label, "labels": np.asarray(labels if labels is not None else np.zeros(len(jumps)),
                                                            np.float64), **extra}


def units_of(study, claim_id: str) -> list[dict]:
    return [unit(r, study.group_of[r.path], e.jumps, e.references, e.span, labels=e.jump_modes)
            for r, e in study.extracts(claim_id)]


def group_rows(study, claim_id: str, reference: str, units: list[dict]) -> pd.DataFrame:
    """The pooled test within each group: descriptive (not in the family, p unadjusted); no CI under
    MIN_RUNS_FOR_CI runs."""
    rows = []
    for group in study.groups:
        members = [u for u in units if u["group"] == group]
        if not members:
            continue
        row = jump_test(f"{group}: jumps vs {reference}", claim_id, reference, members, study.options)
        few = row.n_runs < MIN_RUNS_FOR_CI
        rows.append({"group": group, "reference": reference, "runs": row.n_runs, "jumps": row.n_jumps,
                     "effect": row.effect, "ci_low": None if few else row.ci_low,
                     "ci_high": None if few else row.ci_high, "p_value": row.p_value,
                     "note": f"too few runs for a CI (under {MIN_RUNS_FOR_CI})" if few else ""})
    return pd.DataFrame(rows, columns=["group", "reference", "runs", "jumps", "effect", "ci_low", "ci_high",
                                       "p_value", "note"])


def effect_text(row: TestRow) -> str:
    ci = (f", 95 % cluster-bootstrap CI {row.ci_low:+.3f} to {row.ci_high:+.3f}" if row.ci_low is not None else "")
    spans_zero = row.ci_low is not None and row.ci_low <= 0 <= row.ci_high
    return (f"effect {row.effect:+.3f} decades (observed {row.observed:.3f} - null mean {row.null_mean:.3f}{ci}"
            f"{'; the CI includes 0' if spans_zero else ''}), p = {row.p_value:.3g}, adjusted {row.p_adjusted:.3g}")


def group_lines(table: pd.DataFrame) -> list[str]:
    from analyzer.sections.markdown import markdown_table

    if table.empty:
        return []
    return (["Per group (descriptive: p unadjusted and outside the test family; a group of fewer than "
             f"{MIN_RUNS_FOR_CI} runs gets no CI):", ""]
            + markdown_table(table.rename(columns={"ci_low": "CI low", "ci_high": "CI high", "p_value": "p"})))


def per_run_effects(row: TestRow | None, paths_by_name: dict[str, str]) -> dict[str, float]:
    """Run path -> (observed - null mean distance) per jump of that run, from a jump test's per-unit sums (units
    named `label` or `label mode`: a run's units are summed)."""
    if row is None:
        return {}
    sums: dict[str, list[float]] = {}
    for part, name in zip(row.details.get("per_run", []), row.details.get("unit_names", [])):
        path = paths_by_name.get(name) or paths_by_name.get(name.rsplit(" ", 1)[0])
        if path is None:
            continue
        entry = sums.setdefault(path, [0.0, 0.0])
        entry[0] += part["observed_sum"] - part["null_sum"]
        entry[1] += part["n_jumps"]
    return {path: total / count for path, (total, count) in sums.items() if count}
