"""`analyze study`: many runs' analyses in parallel on Dask distributed, each reduced to a small summary.

What a study computes and keeps comes from the registry: every analysis with study hooks (Analysis.study)
names its jobs (ordinary cached analyses, run through each run's sidecar cache exactly as `analyze report`
does, so a study after a report, or a second study, is cache hits) and what a run's worker collects. A
worker returns a `RunSummary`: the study's events (learned steps, jump steps, escapes and edges, the plateau
table), each hooked analysis's part and a loss curve sampled on a log-step grid -- never the spectra or
predictions. A damaged run comes back as a `SkippedRun` with the reason; the study goes on without it.
"""

from __future__ import annotations

import contextlib
import glob
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

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
    null: str = "swap"  # null of the jump tests (analyzer/analyses/correlate/nulls.py)
    strict_null: bool = False  # named by the user: a group of one run under swap is then bad input, else left out


@dataclass(frozen=True)
class RunSummary:
    """What the study needs from one run (small: a few kB)."""

    path: str
    config: dict
    status: str
    n_steps: int
    freqs_hz: np.ndarray  # (K,) target frequencies, ascending (a harmonics run: its target degrees)
    learned_steps: np.ndarray  # (K,) NaN where never learned
    jump_steps: np.ndarray  # every frequency jump
    jump_freqs_hz: np.ndarray
    escape_steps: np.ndarray  # loss-drop midpoints that end plateaus
    edge_steps: np.ndarray  # change-point plateau edges
    first_pred_step: int
    last_pred_step: int
    plateaus: pd.DataFrame  # start_step, end_step, duration (change-point plateaus)
    loss_steps: np.ndarray
    loss: np.ndarray
    notes: tuple[str, ...] = field(default=())
    # (K,) first step each frequency's relative error fell below the threshold, NaN where never (a frequency can
    # reach it and later drift back above: then it has a first-below step but no learned step)
    first_below_steps: np.ndarray = field(default_factory=lambda: np.empty(0))
    # robustness (filled by a hook, analyzer/analyses/plateaus/variants.py): events per specification, and per
    # jumping frequency the escapes of the loss with that frequency's residual energy removed
    spec: dict = field(default_factory=dict)
    decoupled: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)  # analysis name -> what its study hook collected (StudyHooks.collect)

    @property
    def first_below_or_learned_steps(self) -> np.ndarray:
        """(K,) the first-below steps; a summary made without them falls back on the learned steps."""
        return self.first_below_steps if len(self.first_below_steps) == len(self.learned_steps) else self.learned_steps

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
        return int(self.config.get("seed", 0))

    @property
    def perturb(self) -> float:
        return float(self.config.get("perturb", 0.0) or 0.0)  # > 0: a replicate (is_replicate)

    @property
    def label(self) -> str:
        return Path(self.path).name.removesuffix(".h5")


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

    def one_line(self, err: Exception) -> str:
        return _one_line(err)


def _summarize(path: Path, options: StudyOptions, files=None) -> RunSummary:
    from analyzer.io.run import open_run

    if files is not None:
        return _summary_of(path, *files.opened(path), options)
    with open_run(path) as run:
        return _summary_of(path, run, None, options)


def _summary_of(path: Path, run, cache, options: StudyOptions) -> RunSummary:
    """The summary of an open run, its results read through `cache` (None: the default sidecar, or none)."""
    from analyzer.core.registry import study_hooks

    if run.n_steps < 2:
        raise BadInputError(f"{path}: only {run.n_steps} logged steps")
    context, fields, parts = StudyContext(run, options, cache), {}, {}
    for name, hooks in study_hooks():
        if hooks.collect is None:
            continue
        part = hooks.collect(run, context)
        if hooks.fills_summary:
            fields.update(part)
        elif part is not None:
            parts[name] = part
    loss_steps, loss = _sampled_loss(np.asarray(run.steps), np.asarray(run.loss))
    return RunSummary(path=str(path), config=dict(run.config), status=run.status, n_steps=int(run.n_steps),
                      loss_steps=loss_steps, loss=loss, notes=tuple(context.notes), parts=parts, **fields)


def _sampled_loss(steps: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The loss at up to LOSS_SAMPLES steps spaced evenly in log10(step + 1)."""
    wanted = np.unique(np.round(np.logspace(0, np.log10(len(steps)), LOSS_SAMPLES)).astype(np.int64) - 1)
    return steps[wanted].astype(np.int64), loss[wanted].astype(np.float64)


# ---- many runs on Dask ----------------------------------------------------------------------------

def summarize_runs(paths: list[Path], options: StudyOptions,
                   on_done: Callable[[RunSummary | SkippedRun], None] | None = None,
                   files=None) -> list[RunSummary | SkippedRun]:
    """Every run's summary, computed on Dask distributed; results in the order of `paths`.

    With the cache, the analyses are computed first as jobs (analyzer/core/parallel.py: the Hessian's
    checkpoints spread over the workers, a run's other jobs on one worker that opens the run and its cache once),
    and each run is summarized here from its cache as soon as its jobs are done. Without it, each worker computes
    one run's analyses whole.

    Args:
        files: the study's open run files (analyzer/study/files.py), kept open for its figures; None: opened
            here for the summaries only.
    """
    from analyzer.study.files import RunFiles

    if files is None:
        with RunFiles(options.use_cache) as own:
            return summarize_runs(paths, options, on_done, own)
    from analyzer.core.parallel import cluster, compute_jobs

    index = {str(path): i for i, path in enumerate(paths)}
    results: list = [None] * len(paths)

    def record(outcome: RunSummary | SkippedRun) -> None:
        if outcome.path in index:
            results[index[outcome.path]] = outcome
        if on_done is not None:
            on_done(outcome)

    with cluster(options.workers, options.scheduler) as client:
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
    """The analyses a study reads, for every run: each hooked analysis's jobs (StudyHooks.jobs), in BUILTIN order."""
    from analyzer.core.parallel import Job
    from analyzer.core.registry import study_hooks

    kinds = [kind for _, hooks in study_hooks() if hooks.jobs is not None for kind in hooks.jobs(options)]
    return [Job(str(path), name, dict(overrides), only_if) for path in paths for name, overrides, only_if in kinds]


def is_replicate(config: dict) -> bool:
    """A float-rounding replicate (perturbed initial weights): it informs the noise floor only."""
    return float(config.get("perturb", 0.0) or 0.0) > 0


def is_seed_run(run) -> bool:
    """A Job.only_if: the run is not a float-rounding replicate (whose curvature the study never reads)."""
    return not is_replicate(run.config)
