"""What `analyze study` will compute and roughly how long it will take, said on stderr before any analysis runs:
the runs, the jobs each run gets, the Hessian checkpoints of each run (analyses/hessian/estimate.py, the same
figures as `analyze report`'s plan) and a total spread over the Dask workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Per run, what no analysis estimates: its spectra, ntk, harmonics, mask and plateaus jobs, its summary and its share of
# the figures and the workers' start. Measured: the 4 demo runs' study, 268 s wall on 2 workers at load ~5, of which
# ~160 s of worker time Hessian checkpoints and ~90 s escape (bench/RESULTS.md): ~70 s of worker time per run.
STUDY_OTHER_S = 70


@dataclass
class StudyPlan:
    """The plan's lines for stderr, the Hessian checkpoints to compute and the rough wall time (seconds)."""

    lines: list[str] = field(default_factory=list)
    checkpoints: int = 0
    seconds: float = 0.0
    say: object = None  # called with each line as it is added (None: kept only)
    by_checkpoint: bool = True  # the workers report each checkpoint (with the cache; without, whole runs)

    def add(self, line: str) -> None:
        self.lines.append(line)
        if self.say is not None:
            self.say(line)


def study_plan(paths: list[Path], options, files, workers: int, jobs, say=None) -> StudyPlan:
    """The plan of a study of `paths` on `workers` Dask workers; runs read through `files` (study/files.py).

    A run that cannot be opened is left to its summary, which names it; a cached Hessian counts nothing.

    Args:
        jobs: `jobs(paths, options)`, the study's jobs of those runs (collect.study_jobs; passed in: collect calls
            this module, not the other way round).
        say: called with each line as soon as it is drawn up (a run's checkpoints need its plateaus, computed
            here: a long study must not stay silent until the last run's line).
    """
    from analyzer.core.progress import duration
    from analyzer.core.registry import get
    from analyzer.core.runner import cached_result
    from analyzer.curvature.hvp_timing import HvpTimings

    kinds = [_job_name(job) for job in jobs(paths[:1], options)] if paths else []
    plan = StudyPlan(say=say, by_checkpoint=bool(options.use_cache))
    plan.add(f"study: {len(paths)} run file(s); up to {len(kinds)} jobs per run ({', '.join(kinds)}); "
             "cached results are reused")
    serial, timings = 0.0, HvpTimings()  # one timed probe per run: its plateau and grid jobs share it
    for path in paths:
        try:
            run, cache = files.opened(path)
        except Exception:  # noqa: BLE001 -- a damaged run is skipped, with its reason, by its summary
            plan.add(f"  {Path(path).name}: not readable (its summary says why)")
            continue
        serial += STUDY_OTHER_S
        for job in jobs([path], options):
            estimate = get(job.name).hooks.estimate  # only a heavy analysis plans its own cost (the Hessian's checkpoints)
            if estimate is None or (job.only_if is not None and not job.only_if(run)):
                continue
            if options.use_cache and cached_result(run, job.name, cache=cache, **job.overrides) is not None:
                plan.add(f"  {Path(path).name}: {_job_name(job)} cached")
                continue
            planned = estimate(run, job.overrides, options.use_cache, cache, timings=timings)
            plan.add(f"  {Path(path).name}: {_job_name(job)}: {planned.text}")
            plan.checkpoints += planned.n_checkpoints
            serial += planned.seconds
        if cache is not None:
            cache.release()  # the workers replace the cache file next: a later read must open the new one
    plan.seconds = serial / max(workers, 1)
    plan.add(f"study: {plan.checkpoints} Hessian checkpoint(s) to compute; rough total ~{duration(serial)} "
                      f"of work, ~{duration(plan.seconds)} on {workers} worker(s), more on a busy machine; "
                      "progress follows on stderr")
    return plan


def _job_name(job) -> str:
    """A job in words: its analysis, with its non-default settings ("hessian at=grid per_decade=4")."""
    settings = " ".join(f"{key}={value}" for key, value in sorted(job.overrides.items()))
    return f"{job.name} {settings}".strip()
