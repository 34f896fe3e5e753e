"""Calibration of the jump tests' nulls under generative models they do not assume; picks the default null.

Every registered null (analyzer/stats/nulls) is run on the same simulated studies (4 presets x 8 runs, the
seed-0 timing; analyzer/stats/calibration): its false-positive rate under each model that is a null for its
test (independent events against escapes and against edges; a shared per-run clock of SD 0.1, 0.2, 0.3 decades;
Parseval coupling without saddles, for the decoupled test, with and without a clock), its power under planted
coupling (20 % of jumps at the run's own escapes, with and without a clock of SD 0.2), and the coverage of its
effect's 95 % interval on null and planted studies of 4-6 groups of 4-8 runs. Also shown, not counted: the
primary test on the Parseval model (the identity: every jump is a loss drop, so it should reject), the clipped
clock model of the first calibration (it reproduces the issue's swap figures), and window variants of the
interval-jitter null. The default is the most powerful null (power: the smaller of the two planted models) whose
worst false-positive rate over the null models is at most 0.07 at alpha 0.05.

    OMP_NUM_THREADS=1 .venv/bin/python bench/null_calibration.py [--studies 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

NULL_MODELS = ("independent", "independent-edges", "clock-0.1", "clock-0.2", "clock-0.3", "parseval",
               "parseval-clock-0.2")
POWER_MODELS = ("planted", "planted-clock-0.2")
SHOWN_MODELS = ("clock-0.3-clipped", "parseval-primary")  # reported, not counted
VARIANTS = {"interval-jitter w=0.05": ("interval-jitter", {"window": 0.05}),
            "interval-jitter w=0.2": ("interval-jitter", {"window": 0.2}),
            "interval-jitter centred": ("interval-jitter", {"centred": True})}
DESIGNS = ((4, 4), (4, 8), (6, 4), (6, 8))  # (groups, runs per group) of the coverage check
LIMIT = 0.07


def model_table(args, log) -> dict:
    """{model: {null label: rates}} for every null and power model (one set of studies per model)."""
    from analyzer.stats.calibration import calibration_models, null_variants, parseval_study, rejection_rates
    from analyzer.stats.nulls import NULLS

    nulls = null_variants({**{name: (name, {}) for name in NULLS}, **VARIANTS})
    models = calibration_models()
    table = {}
    for index, name in enumerate(NULL_MODELS + POWER_MODELS + SHOWN_MODELS):
        start = time.perf_counter()
        n = args.studies if name in NULL_MODELS else args.power_studies
        if name == "parseval-primary":
            table[name] = rejection_rates(None, nulls, n, args.draws, args.alpha, seed=index,
                                          simulate=lambda rng, design: parseval_study(rng, design=design,
                                                                                      test="primary"))
        else:
            table[name] = rejection_rates(models[name], nulls, n, args.draws, args.alpha, seed=index)
        log(f"{name}: {n} studies, {time.perf_counter() - start:.0f} s")
    return table


def coverage_table(args, candidates: list[str], log) -> dict:
    """{null: {"MODEL GxR": coverage}} of the effect's interval (truth: the pooled effect of 4x as many studies)."""
    from analyzer.stats.calibration import calibration_models, null_variants, rejection_rates

    models = calibration_models()
    nulls = null_variants({name: (name, {}) for name in candidates})
    out: dict = {name: {} for name in candidates}
    for groups, runs in DESIGNS:
        for model in ("independent", "planted"):
            start = time.perf_counter()
            truth = {k: v["pooled_effect"] for k, v in rejection_rates(
                models[model], nulls, 4 * args.coverage_studies, args.draws, args.alpha, seed=100 + groups * 10 + runs,
                design=(groups, runs)).items()}
            rates = rejection_rates(models[model], nulls, args.coverage_studies, args.draws, args.alpha,
                                    seed=200 + groups * 10 + runs, design=(groups, runs),
                                    n_resamples=args.resamples, truth=truth)
            for name in candidates:
                out[name][f"{model} {groups}x{runs}"] = {"coverage": rates[name]["coverage"],
                                                         "se": rates[name]["coverage_se"], "truth": truth[name]}
            log(f"coverage {model} {groups}x{runs}: {time.perf_counter() - start:.0f} s")
    return out


def summarise(table: dict, alpha: float) -> dict:
    """Per null (registered names and variants): worst FPR over the null models, its SE, power, by model."""
    rows = {}
    for label in table[NULL_MODELS[0]]:
        by_model = {m: table[m][label]["rate"] for m in NULL_MODELS}
        worst = max(NULL_MODELS, key=lambda m: by_model[m])
        rows[label] = {"fpr": by_model[worst], "fpr_se": table[worst][label]["se"], "worst_model": worst,
                       "power": min(table[m][label]["rate"] for m in POWER_MODELS), "fpr_by_model": by_model,
                       "power_by_model": {m: table[m][label]["rate"] for m in POWER_MODELS},
                       "shown": {m: table[m][label]["rate"] for m in SHOWN_MODELS},
                       "effect_by_model": {m: table[m][label]["effect"] for m in table}}
    return rows


def choose_default(rows: dict) -> str | None:
    from analyzer.stats.calibration import holds_level
    from analyzer.stats.nulls import NULLS

    qualified = [n for n in NULLS if not NULLS[n].diagnostic and holds_level(rows[n]["fpr"], LIMIT)]
    return max(qualified, key=lambda n: rows[n]["power"]) if qualified else None


def markdown(result: dict, args) -> str:
    rows, models = result["rows"], NULL_MODELS + POWER_MODELS + SHOWN_MODELS
    lines = [f"{args.studies} studies per null model, {args.power_studies} per power and shown model, "
             f"{args.draws} null draws, alpha {args.alpha}; default: **{result['default']}**", "",
             "Rejection rate at alpha 0.05 (null models: false-positive rate; planted: power; shown: not counted):",
             "", "| null | worst FPR (+- MC SE) | " + " | ".join(models) + " |",
             "|---|---:|" + "---:|" * len(models)]
    for label, row in rows.items():
        rates = {**row["fpr_by_model"], **row["power_by_model"], **row["shown"]}
        lines.append(f"| {label} | {row['fpr']:.3f} +- {row['fpr_se']:.3f} | "
                     + " | ".join(f"{rates[m]:.3f}" for m in models) + " |")
    lines += ["", "Mean effect (observed - null mean, decades; swap-type: against the other runs' references):", "",
              "| null | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    for label, row in rows.items():
        lines.append(f"| {label} | " + " | ".join(f"{row['effect_by_model'][m]:+.4f}" for m in models) + " |")
    cells = list(next(iter(result["coverage"].values())))
    lines += ["", f"Coverage of the effect's 95 % interval ({args.coverage_studies} studies per cell, "
              f"{args.resamples} resamples; design groups x runs):", "",
              "| null | " + " | ".join(cells) + " |", "|---|" + "---:|" * len(cells)]
    for label, cov in result["coverage"].items():
        lines.append(f"| {label} | " + " | ".join(f"{cov[c]['coverage']:.3f}" for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1000, help="studies per null model (>= 1000 for the record)")
    parser.add_argument("--power-studies", type=int, default=1000, help="studies per power and shown model")
    parser.add_argument("--coverage-studies", type=int, default=500, help="studies per coverage cell")
    parser.add_argument("--resamples", type=int, default=999, help="bootstrap resamples of an interval")
    parser.add_argument("--draws", type=int, default=199, help="null draws per test")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--json", action="store_true", help='print {"default": NAME, "nulls": {NAME: {fpr, fpr_se, '
                                                            'power, fpr_by_model}}, ...} only')
    parser.add_argument("--markdown", help="also write the Markdown tables to this file (with --json)")
    args = parser.parse_args()
    from analyzer.stats.nulls import NULLS

    start = time.perf_counter()
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    table = model_table(args, log)
    rows = summarise(table, args.alpha)
    default = choose_default(rows)
    candidates = [n for n in NULLS if not NULLS[n].diagnostic]
    result = {"default": default, "rows": rows, "coverage": coverage_table(args, candidates, log)}
    if args.json:
        keep = ("fpr", "fpr_se", "power", "fpr_by_model", "power_by_model", "worst_model")
        print(json.dumps({"default": default,
                          "nulls": {n: {k: rows[n][k] for k in keep} for n in NULLS},
                          "variants": {v: {k: rows[v][k] for k in keep} for v in VARIANTS},
                          "shown": {n: rows[n]["shown"] for n in rows},
                          "coverage": {n: {c: v["coverage"] for c, v in cov.items()}
                                       for n, cov in result["coverage"].items()},
                          "studies": args.studies, "draws": args.draws, "alpha": args.alpha}, indent=2))
    else:
        print(markdown(result, args))
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(markdown(result, args) + f"\n\n({time.perf_counter() - start:.0f} s)\n")
    if not args.json:
        print(f"\n({time.perf_counter() - start:.0f} s)")
    if default is None:
        log(f"NO NULL QUALIFIES: every non-diagnostic null has a worst-model FPR above {LIMIT}")


if __name__ == "__main__":
    main()
