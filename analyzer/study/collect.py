"""`analyze study`: many runs' analyses in parallel on Dask distributed, each reduced to a small summary.

What a study computes and keeps comes from its claims (analyzer/study/claims/): every claim names its jobs
(ordinary cached analyses, run through each run's sidecar cache exactly as `analyze report` does, so a study after
a report, or a second study, is cache hits) and what it extracts from a run. A worker returns a `RunSummary`: the
run's identity, a loss curve sampled on a log-step grid and each claim's extract -- never the spectra or
predictions. A damaged run comes back as a `SkippedRun` with the reason; the study goes on without it.
"""

from __future__ import annotations

import contextlib
import glob
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from analyzer.errors import BadInputError

LOSS_SAMPLES = 200  # loss values kept per run, log-spaced in step: enough for overlays and median bands
SIDECAR_SUFFIX = ".analysis.h5"


@dataclass(frozen=True)
class StudyOptions:
    """What each worker computes, and where."""

    hessian: bool = True
    use_cache: bool = True
    workers: int | None = None  # LocalCluster worker processes; None: one per core
    scheduler: str | None = None  # address of an existing Dask scheduler
    n_permutations: int = 9999
    n_resamples: int = 10_000
    seed: int = 0
    null: str = "clock-swap"  # null of the jump tests (analyzer/stats/nulls/; the default is chosen by calibration)
    strict_null: bool = False  # named by the user: a group of one run under swap is then bad input, else left out
    group_by: tuple[str, ...] = ()  # config keys that form the groups (analyzer/study/groups.py); (): the varying ones


@dataclass(frozen=True)
class RunSummary:
    """What the study keeps of one run (small: a few kB): its identity, a sampled loss curve, each claim's extract."""

    path: str
    config: dict
    status: str
    n_steps: int
    loss_steps: np.ndarray
    loss: np.ndarray
    notes: tuple[str, ...] = field(default=())
    extracts: dict = field(default_factory=dict)  # claim id -> what its `extract` kept (None: nothing)
    name: str = ""  # the run's name in the study, unique within it (unique_names); "": the file's stem

    def extract(self, claim_id: str) -> Any:
        """The claim's extract of this run, or None."""
        return self.extracts.get(claim_id)

    @property
    def preset(self) -> str:
        """The trainer's preset; imported and logged runs are grouped by their model's constructor; a harmonics
        run's group says so (its modes are degrees, never pooled with a sine run's frequencies)."""
        if self.config.get("preset") is not None:
            harmonics = (self.config.get("target") or {}).get("kind") == "harmonics"
            return str(self.config["preset"]) + (" (harmonics)" if harmonics else "")
        model = self.config.get("model") or {}
        return str(model.get("constructor") or self.config.get("source") or "?")

    @property
    def seed(self) -> int:
        """The run's random seed: the trainer's, or a research loop's own `seed` key (logged runs keep it under
        `user`)."""
        user = self.config.get("user") if isinstance(self.config.get("user"), dict) else {}
        value = self.config.get("seed", user.get("seed", 0))
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    @property
    def perturb(self) -> float:
        return float(self.config.get("perturb", 0.0) or 0.0)  # > 0: a replicate (is_replicate)

    @property
    def is_twin(self) -> bool:
        """The run is a network's linearised twin (`train --linearize`): a control without saddles."""
        return bool(self.config.get("linearize", False))

    @property
    def role(self) -> str:
        """"network" (a run of the study's claims), "replicate" (float-rounding control: the noise floor) or "twin"
        (the linearised twin of a network run: the twin contrast)."""
        return "twin" if self.is_twin else "replicate" if self.perturb > 0 else "network"

    @property
    def label(self) -> str:
        """The run's name in tables and as the key of its cluster: unique within a study (`unique_names`)."""
        return self.name or Path(self.path).name.removesuffix(".h5")


def unique_names(paths: list[str]) -> dict[str, str]:
    """Each run's name: its file's stem, prefixed by as many of its parent folders as it takes to tell apart runs
    whose stems are equal (`sgd-s5` in two sweeps: `harmonics-w8/sgd-s5`, `sines-w32/sgd-s5`)."""
    parts = {p: Path(p).resolve().with_suffix("").parts for p in paths}
    names: dict[str, str] = {}
    for path in paths:
        depth = 1
        while True:
            name = "/".join(parts[path][-depth:])
            clash = [q for q in paths if q != path and "/".join(parts[q][-depth:]) == name]
            if not clash or depth >= len(parts[path]):
                break
            depth += 1
        names[path] = name
    return names


@dataclass(frozen=True)
class SkippedRun:
    path: str
    reason: str


# ---- input ---------------------------------------------------------------------------------------

def collect_paths(inputs: list[str | Path]) -> list[Path]:
    """Run files named by folders (their *.h5, sidecars excluded), globs or paths; bad input raises."""
    if not inputs:
        raise BadInputError("study needs at least one folder, glob or run file")
    found: list[Path] = []
    for item in map(str, inputs):
        path = Path(item)
        if path.is_dir():
            matches = sorted(p for p in path.glob("*.h5") if not p.name.endswith(SIDECAR_SUFFIX))
            if not matches:
                raise BadInputError(f"no run files (*.h5) in folder {path}")
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item) if Path(p).is_file()
                             and not p.endswith(SIDECAR_SUFFIX))
            if not matches:
                raise BadInputError(f"no run files match {item}")
        else:
            raise BadInputError(f"{item}: no such file or folder")
        found += matches
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return [Path(p) for p in unique]


# ---- one run (runs on a worker) -------------------------------------------------------------------

def summarize_run(path: str, options: StudyOptions, files=None) -> RunSummary | SkippedRun:
    """The cached analyses of one run reduced to a summary; any failure becomes a SkippedRun with the reason.

    Args:
        files: the study's open run files (analyzer/study/files.py), read through; None opens the run here.
    """
    from analyzer.errors import AnalyzerError

    # worker processes may share the terminal: keep the Hessian's own progress bar and warnings off it
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return _summarize(Path(path), options, files)
        except (AnalyzerError, OSError, KeyError, ValueError) as err:
            return SkippedRun(str(path), _one_line(err, path))
        except Exception as err:  # noqa: BLE001 -- a worker must report, not die, on a damaged file
            return SkippedRun(str(path), f"{type(err).__name__}: {_one_line(err, path)}")


def _one_line(err: Exception, path: str | Path = "") -> str:
    """The error on one line, without the run's path in front (the path is listed beside it)."""
    text = " ".join(str(err).split())
    if path:
        text = text.removeprefix(f"{path}:").removeprefix(f"{path}").strip()
    return text[:300] or type(err).__name__


@dataclass
class StudyContext:
    """What a study hook's collect(run, context) gets: the options, notes to append to (a failure the study goes on
    without), and the run's results, each computed once per summary (through `cache`, the run's open sidecar cache,
    where the study keeps one)."""

    run: object
    options: StudyOptions
    cache: object = None
    notes: list = field(default_factory=list)
    results: dict = field(default_factory=dict)

    @property
    def use_cache(self) -> bool:
        return self.options.use_cache

    def result(self, name: str, **overrides):
        """analyze(run, name, **overrides) through the cache, once per summary."""
        from analyzer.core.runner import analyze

        key = (name, tuple(sorted(overrides.items())))
        if key not in self.results:
            self.results[key] = analyze(self.run, name, cache=self.cache, use_cache=self.options.use_cache,
                                        **overrides)
        return self.results[key]

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """compute() once per summary under `key` (what several claims read, e.g. the run's events)."""
        if key not in self.results:
            self.results[key] = compute()
        return self.results[key]

    def one_line(self, err: Exception) -> str:
        return _one_line(err)


def _summarize(path: Path, options: StudyOptions, files=None) -> RunSummary:
    from analyzer.io.run import open_run

    if files is not None:
        return _summary_of(path, *files.opened(path), options)
    with open_run(path) as run:
        return _summary_of(path, run, None, options)


def _summary_of(path: Path, run, cache, options: StudyOptions) -> RunSummary:
    """The summary of an open run, its results read through `cache` (None: the default sidecar, or none): each
    claim's extract; an essential claim's failure skips the run, another's is a note on it."""
    from analyzer.errors import AnalyzerError
    from analyzer.study.claims import all_claims

    if run.n_steps < 2:
        raise BadInputError(f"{path}: only {run.n_steps} logged steps")
    context, extracts = StudyContext(run, options, cache), {}
    replicate = is_replicate(run.config)
    for claim in all_claims():
        if claim.network_runs_only and replicate:
            continue
        try:
            extracts[claim.id] = claim.extract(run, context)
        except (AnalyzerError, ValueError, KeyError, IndexError) as err:
            if claim.essential:
                raise
            context.notes.append(f"{claim.id}: {context.one_line(err)}")
    loss_steps, loss = _sampled_loss(np.asarray(run.steps), np.asarray(run.loss))
    return RunSummary(path=str(path), config=dict(run.config), status=run.status, n_steps=int(run.n_steps),
                      loss_steps=loss_steps, loss=loss, notes=tuple(context.notes), extracts=extracts)


def _sampled_loss(steps: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The loss at up to LOSS_SAMPLES steps spaced evenly in log10(step + 1)."""
    wanted = np.unique(np.round(np.logspace(0, np.log10(len(steps)), LOSS_SAMPLES)).astype(np.int64) - 1)
    return steps[wanted].astype(np.int64), loss[wanted].astype(np.float64)


# ---- many runs on Dask ----------------------------------------------------------------------------

def summarize_runs(paths: list[Path], options: StudyOptions,
                   on_done: Callable[[RunSummary | SkippedRun], None] | None = None,
                   files=None, on_plan: Callable | None = None) -> list[RunSummary | SkippedRun]:
    """Every run's summary, computed on Dask distributed; results in the order of `paths`.

    With the cache, the analyses are computed first as jobs (analyzer/core/parallel.py: the Hessian's
    checkpoints spread over the workers, a run's other jobs on one worker that opens the run and its cache once),
    and each run is summarized here from its cache as soon as its jobs are done. Without it, each worker computes
    one run's analyses whole.

    Args:
        files: the study's open run files (analyzer/study/files.py), kept open for its figures; None: opened
            here for the summaries only.
        on_plan: called with each line of the study's plan (study/plan.py) as it is drawn up, then with the plan,
            once the workers are starting and before any job is sent to them.
    """
    from analyzer.study.files import RunFiles

    if files is None:
        with RunFiles(options.use_cache) as own:
            return summarize_runs(paths, options, on_done, own, on_plan)
    from analyzer.core.parallel import cluster, compute_jobs, warm_up
    from analyzer.study.plan import study_plan

    index = {str(path): i for i, path in enumerate(paths)}
    results: list = [None] * len(paths)

    def record(outcome: RunSummary | SkippedRun) -> None:
        if outcome.path in index:
            results[index[outcome.path]] = outcome
        if on_done is not None:
            on_done(outcome)

    with cluster(options.workers, options.scheduler) as client:
        warming = warm_up(client)  # the workers import torch while the plan is drawn up (held: else cancelled)
        if on_plan is not None:
            on_plan(study_plan(paths, options, files, len(warming) or 1, study_jobs, say=on_plan))
        if options.use_cache:
            for path, _errors in compute_jobs(client, study_jobs(paths, options), cost=files.cost):
                # a summary reads the cache (a fraction of a second) while the workers go on, so the progress
                # bar moves as runs finish; errors are found again, and named, by summarize_run (a failed
                # Hessian becomes a note there)
                record(summarize_run(path, options, files))
        else:
            for outcome in _summaries_on_workers(client, list(index), options, files.cost):
                record(outcome)
    return [r if r is not None else SkippedRun(str(p), "worker failed") for r, p in zip(results, paths)]


def _summaries_on_workers(client, paths: list[str], options: StudyOptions, cost: Callable[[str], int]):
    """Each run's analyses computed whole on one worker, largest files first (the slowest run then starts at
    once instead of last, which on a few runs per worker decides the wall time)."""
    from distributed import as_completed

    costs = {path: cost(path) for path in paths}
    futures = [client.submit(summarize_run, path, options, pure=False, priority=costs[path])
               for path in sorted(paths, key=lambda p: -costs[p])]
    for future in as_completed(futures):
        try:
            yield future.result()
        except Exception as err:  # noqa: BLE001 -- a worker lost mid-task, not the run's fault
            yield SkippedRun("?", f"worker failed: {_one_line(err)}")


def study_jobs(paths: list[Path], options: StudyOptions) -> list:
    """The analyses a study reads, for every run: each claim's jobs (Claim.jobs), in BUILTIN order, once each."""
    from analyzer.core.parallel import Job
    from analyzer.study.claims import all_claims

    kinds = {}
    for claim in all_claims():
        for job in claim.jobs(options):
            key = (job.analysis, tuple(sorted(job.overrides.items())))
            if key not in kinds or job.only_if is None:  # a job for every run covers one for some runs
                kinds[key] = job
    return [Job(str(path), job.analysis, dict(job.overrides), job.only_if) for path in paths for job in kinds.values()]


def is_replicate(config: dict) -> bool:
    """A float-rounding replicate (perturbed initial weights): it informs the noise floor only."""
    return float(config.get("perturb", 0.0) or 0.0) > 0


def is_network_run(run) -> bool:
    """A Job.only_if: the run is not a float-rounding replicate (whose curvature the study never reads)."""
    return not is_replicate(run.config)
