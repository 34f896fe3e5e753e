"""From run summaries to a study: the groups (groups.py), each claim's pooled evidence, the test family adjusted
together, and the claims' verdicts.

Roles. A run with `perturb > 0` in its config is a replicate control: same seed, initial weights perturbed at
float-rounding level. Replicates are kept out of every across-seed statistic and test (they are near copies of
their seed's run, not independent draws); they feed the noise floor only (claims/noise_floor.py). A run with
`linearize` in its config is a network run's linearised twin (no saddles): it is kept out of the claims too and
feeds the twin contrast only (claims/twin_contrast.py). Twins share their network's group name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from analyzer.study.collect import RunSummary, SkippedRun, StudyOptions, unique_names
from analyzer.study.groups import Grouping, group_runs



@dataclass
class Study:
    """The runs of a study and everything computed from them: each claim's pooled result, the adjusted test family
    and the verdicts."""

    runs: list[RunSummary]  # every valid run, seeds and replicates
    skipped: list[SkippedRun]
    group_of: dict[str, str]  # run path -> group name
    options: StudyOptions
    results: dict = field(default_factory=dict)  # claim id -> Claim.evaluate(study)
    family: list = field(default_factory=list)  # the test family (TestRow), adjusted together; the primary first
    verdicts: list = field(default_factory=list)  # Verdict rows, in claim order
    files: object = None  # the study's open run files (analyzer/study/files.py); None: a read opens its run
    grouping: Grouping | None = None  # how the groups were formed (the report says it)

    @property
    def network_runs(self) -> list[RunSummary]:
        """The runs the claims are judged on: neither float-rounding replicates nor linearised twins."""
        return [r for r in self.runs if r.role == "network"]

    @property
    def replicate_runs(self) -> list[RunSummary]:
        return [r for r in self.runs if r.role == "replicate"]

    @property
    def twin_runs(self) -> list[RunSummary]:
        return [r for r in self.runs if r.role == "twin"]

    @property
    def groups(self) -> list[str]:
        return sorted(set(self.group_of.values()))

    def extracts(self, claim_id: str, runs: list[RunSummary] | None = None) -> list[tuple[RunSummary, object]]:
        """(run, extract) of every run (default: the network runs) that has the claim's extract."""
        chosen = self.network_runs if runs is None else runs
        return [(r, r.extract(claim_id)) for r in chosen if r.extract(claim_id) is not None]

    def family_row(self, name: str):
        """The family's row called `name` (after adjustment), or None."""
        return next((row for row in self.family if row.name == name), None)

    def run_result(self, path: str, name: str, **overrides):
        """analyze(path, name, **overrides) through the study's open run files, or opening the run."""
        if self.files is not None:
            return self.files.result(path, name, **overrides)
        from analyzer.core.runner import analyze

        return analyze(path, name, use_cache=self.options.use_cache, **overrides)


def build_study(outcomes: list[RunSummary | SkippedRun], options: StudyOptions, files=None) -> Study:
    """Every claim evaluated on the workers' outcomes (at least one valid run), its tests adjusted together as one
    family, then each claim's verdicts; `files`: the study's open run files, for what reads a run again."""
    from analyzer.study.claims import all_claims
    from analyzer.stats import adjust_family

    runs = [o for o in outcomes if isinstance(o, RunSummary)]
    names = unique_names([r.path for r in runs])  # one run's name is the key of its cluster: never two runs' name
    runs = [dataclasses.replace(r, name=names[r.path]) for r in runs]
    skipped = [o for o in outcomes if isinstance(o, SkippedRun)]
    grouping = group_runs(runs, options.group_by)
    study = Study(runs=runs, skipped=skipped, group_of=grouping.group_of, options=options, files=files,
                  grouping=grouping)
    claims = all_claims()
    for claim in claims:
        study.results[claim.id] = claim.evaluate(study)
    study.family = adjust_family([row for claim in claims for row in claim.tests(study, study.results[claim.id])])
    study.verdicts = [v for claim in claims for v in claim.verdicts(study, study.results[claim.id])]
    return study


def run_study(inputs, options: StudyOptions, on_start=None, on_done=None, files=None, on_plan=None) -> Study:
    """Collect the run files, summarize them on Dask, and build the study; no valid run is bad input.

    Args:
        files: the study's open run files (analyzer/study/files.py), each run opened once for the summaries and
            the report's figures (keep them open until the report is rendered); None: opened for the summaries.
        on_plan: called with the up-front plan (study/plan.py) before any analysis runs.
    """
    from analyzer.errors import BadInputError
    from analyzer.study.collect import collect_paths, summarize_runs

    paths = collect_paths(list(inputs))
    if on_start is not None:
        on_start(len(paths))
    outcomes = summarize_runs(paths, options, on_done, files, on_plan)
    if not any(isinstance(o, RunSummary) for o in outcomes):
        first = next(o for o in outcomes if isinstance(o, SkippedRun))
        raise BadInputError(f"none of the {len(paths)} run files could be analysed ({first.path}: {first.reason})")
    return build_study(outcomes, options, files)
