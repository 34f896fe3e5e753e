"""Calibration of the jump-to-reference nulls: false-positive rate without coupling, power with planted coupling.

For each null (swap, shift, log-uniform) the pooled study test is run on N simulated studies of 4 presets x 8
runs without coupling (analyzer/study/calibration.py: each preset's seed-0 timing, clustering included,
independent jitter of jumps and references), once against escapes and once against plateau edges; the
false-positive rate reported is the larger of the two (the null has to hold for both references). Power: the
same studies with a fraction of each run's jumps placed at its own escapes (--coupling, default 0.3), and the
diag-linear known-answer runs (36 configurations of bench/known_answer_validation.py, jumps at the true
escapes). The default is the most powerful null whose false-positive rate is within 2 SE of alpha.

    OMP_NUM_THREADS=1 .venv/bin/python bench/null_calibration.py [--studies 500] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NULLS = ("swap", "shift", "log-uniform")
CURVE = (0.1, 0.2, 0.3, 0.5, 1.0)  # planted coupling fractions of the power curve


def known_answers():
    """(answers, groups): the closed-form truth of every known-answer configuration, grouped by amplitude set."""
    from known_answer_validation import sweep_configs

    from analyzer.analyses.score.known import predict

    configs = list(sweep_configs())
    return [predict(config) for _, config in configs], [name.split("-")[0] for name, _ in configs]


def calibrate(n_studies: int, n_power: int, coupling: float, n_draws: int, alpha: float, log) -> dict:
    from analyzer.study.calibration import holds_level, known_answer_power, rejection_rate

    answers, groups = known_answers()
    rows = {}
    for null in NULLS:
        start = time.perf_counter()
        fpr = {ref: rejection_rate(null, n_studies, n_draws, alpha, seed=1, reference=ref)
               for ref in ("escapes", "edges")}
        worst = max(fpr.values(), key=lambda r: r["rate"])
        curve = {q: rejection_rate(null, n_power, n_draws, alpha, seed=2, reference="escapes", coupling=q)
                 for q in CURVE}
        rows[null] = {"fpr": worst["rate"], "fpr_se": worst["se"], "power": curve[coupling]["rate"],
                      "fpr_escapes": fpr["escapes"]["rate"], "fpr_edges": fpr["edges"]["rate"],
                      "curve": curve, "known_answer_power": known_answer_power(null, answers, groups, n_power,
                                                                              n_draws, alpha),
                      "holds": holds_level(worst["rate"], worst["se"], alpha)}
        log(f"{null}: {time.perf_counter() - start:.1f} s")
    calibrated = [n for n in NULLS if rows[n]["holds"]]
    default = max(calibrated, key=lambda n: rows[n]["power"]) if calibrated else None
    return {"default": default, "rows": rows}


def markdown(result: dict, args) -> str:
    lines = [f"{args.studies} no-coupling studies and {args.power_studies} per power row (4 presets x 8 runs), "
             f"{args.draws} null draws, alpha {args.alpha}; default: **{result['default']}**", "",
             "| null | FPR (worst of escapes/edges) | FPR escapes | FPR edges | power (coupling "
             f"{args.coupling:g}) | power, known-answer runs | holds level |", "|---|---:|---:|---:|---:|---:|---|"]
    for null, row in result["rows"].items():
        lines.append(f"| {null} | {row['fpr']:.3f} +- {row['fpr_se']:.3f} | {row['fpr_escapes']:.3f} | "
                     f"{row['fpr_edges']:.3f} | {row['power']:.3f} | {row['known_answer_power']:.3f} | "
                     f"{'yes' if row['holds'] else 'no'} |")
    lines += ["", "Power curve against escapes (fraction of jumps planted at the run's own escapes: power, mean "
              "effect = observed - null mean distance in decades):", "",
              "| null | " + " | ".join(f"{q:g}" for q in CURVE) + " |", "|---|" + "---:|" * len(CURVE)]
    for null, row in result["rows"].items():
        lines.append(f"| {null} | " + " | ".join(f"{c['rate']:.2f} ({c['effect']:+.3f})"
                                                   for c in row["curve"].values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=500, help="no-coupling studies per null and reference")
    parser.add_argument("--power-studies", type=int, default=200, help="studies per power row")
    parser.add_argument("--coupling", type=float, default=0.3, help="planted coupling of the power column")
    parser.add_argument("--draws", type=int, default=199, help="null draws per test")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--json", action="store_true", help='print {"default": NAME, "nulls": {NAME: {fpr, '
                                                            'fpr_se, power}}} only')
    args = parser.parse_args()
    if args.coupling not in CURVE:
        parser.error(f"--coupling must be one of {CURVE}")
    start = time.perf_counter()
    result = calibrate(args.studies, args.power_studies, args.coupling, args.draws, args.alpha,
                       log=lambda text: print(text, file=sys.stderr))
    if args.json:
        print(json.dumps({"default": result["default"],
                          "nulls": {n: {k: r[k] for k in ("fpr", "fpr_se", "power")}
                                    for n, r in result["rows"].items()}}, indent=2))
    else:
        print(markdown(result, args))
        print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
