"""`train sweep`: presets x seeds x config grids, one ordinary run file per run, trained on Dask distributed.

A sweep is planned (`trainer.sweep.plan`) and validated in full before anything starts (`existing_status`),
then every run that is not already finished becomes one Dask task (`execute_run`) that calls the same
`trainer.engines.loop.train` / `trainer.engines.loop.resume` as `train run` / `train resume`. Reruns are
idempotent: a complete or diverged file is kept without being opened for writing, a killed or interrupted one
is resumed. Dask's own mechanisms do the scheduling: `retries=` for failed attempts, the scheduler's
rescheduling for tasks lost with a dead worker (the retry resumes the partial file), `priority=` to
start the longest runs first (on a local cluster also fed one run per free worker), worker events for
per-run progress.
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from trainer.config import TrainConfig
from trainer.errors import ConfigError, RunFileError, TrainerError
from trainer.sweep.cluster import SweepError, dask_client, usable_cores  # noqa: F401 - SweepError: raised by run_sweep
from trainer.sweep.plan import PlannedRun, estimated_cost, manifest_text, write_atomically
from trainer.sweep.plan import MANIFEST, plan_sweep  # noqa: F401 - the API next to run_sweep

PROGRESS_TOPIC = "spectral-sweep-progress"
FINISHED = ("complete", "diverged")  # results: a rerun keeps them


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one run. action: trained, resumed, kept, failed or interrupted (not finished)."""

    file: str
    action: str
    status: str = "-"  # the run file's status afterwards, "-" when unknown
    steps: int = 0
    seconds: float = 0.0
    final_loss: float = math.nan
    error: str = ""


@dataclass(frozen=True)
class SweepSummary:
    folder: Path
    outcomes: tuple[RunOutcome, ...]  # in plan order
    interrupted: bool = False

    @property
    def failed(self) -> tuple[RunOutcome, ...]:
        return tuple(o for o in self.outcomes if o.action == "failed")

    def to_dict(self) -> dict:
        runs = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in dataclasses.asdict(o).items()} for o in self.outcomes]
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.action] = counts.get(outcome.action, 0) + 1
        return {"out": str(self.folder), "n_runs": len(self.outcomes), "interrupted": self.interrupted,
                "counts": counts, "failed": [{"file": o.file, "error": o.error} for o in self.failed], "runs": runs}


# ---- run files already in the folder --------------------------------------------------------------
def existing_status(path: Path, config: TrainConfig) -> str | None:
    """The status of the run file at `path`, None when there is none.

    Opens the file read-only, so a finished file is never modified. Raises RunFileError when the
    file cannot be read as a run, ConfigError when it holds another configuration.
    """
    from trainer.runfile.schema import open_swmr_reader

    if not path.exists():
        return None
    with open_swmr_reader(path) as f:
        try:
            stored, status = TrainConfig.from_json(f.attrs["config"]), str(f.attrs["status"])
        except (KeyError, TypeError, ValueError) as err:
            raise RunFileError(f"{path} has no readable run configuration ({err})") from None
    if stored != config:
        raise ConfigError(f"{path} holds a different configuration; use another --out folder or --overwrite")
    return status


# ---- one task, on a Dask worker -----------------------------------------------------------------
def execute_run(config_json: str, path: str, overwrite: bool) -> RunOutcome:
    """Train, resume or keep the run at `path`: the body of one sweep task.

    Bad input (TrainerError) comes back as a failed outcome, so Dask does not retry what cannot
    succeed; any other exception propagates and Dask retries the task, which then resumes the file.
    """
    import torch

    from trainer.engines.loop import resume, train

    torch.set_num_threads(1)  # one run per single-threaded worker; also keeps results independent of cores
    config, target = TrainConfig.from_json(config_json), Path(path)
    try:
        status = None if overwrite else existing_status(target, config)
        if status in FINISHED:
            return RunOutcome(target.name, "kept", status)
        progress = _progress_events(target.name, config.epochs)
        if status is None:
            result, action = train(config, target, overwrite=overwrite, progress=progress), "trained"
        else:
            result, action = resume(target, progress=progress), "resumed"
    except TrainerError as err:
        return RunOutcome(target.name, "failed", error=str(err))
    action = action if result.status != "interrupted" else "interrupted"
    return RunOutcome(target.name, action, result.status, result.steps, result.seconds, result.final_loss)


def _progress_events(file: str, epochs: int, every_s: float = 1.0) -> Callable[[int, float], None] | None:
    """A training progress callback that logs a Dask worker event at most every `every_s` seconds."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # not on a Dask worker
        return None
    last = [0.0]

    def report(step: int, loss: float) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            worker.log_event(PROGRESS_TOPIC, {"file": file, "step": step, "epochs": epochs, "loss": float(loss)})

    return report


# ---- the sweep, on a Dask cluster ---------------------------------------------------------------
def run_sweep(folder: Path | str, runs: Sequence[PlannedRun], *, overwrite: bool = False, scheduler: str | None = None,
              workers: int | None = None, retries: int = 2, manifest: bool = True,
              on_outcome: Callable[[RunOutcome], None] | None = None,
              on_step: Callable[[str, int, int, float], None] | None = None) -> SweepSummary:
    """Run every planned run that is not finished yet; see the module docstring.

    Raises ConfigError / SweepError before anything starts; after that, failures are outcomes.
    On KeyboardInterrupt, queued runs are cancelled, the local workers stopped (runs in flight stay
    resumable) and the summary says `interrupted`.
    """
    folder = Path(folder).absolute()  # workers may run elsewhere: give them absolute paths
    from trainer.runfile.schema import unwritable_reason

    reason = unwritable_reason(folder)
    if reason:
        raise ConfigError(f"cannot write the sweep into {folder}: {reason}")
    outcomes = _outcomes_known_beforehand(folder, runs, overwrite)
    text = manifest_text(folder, runs) if manifest else None
    for outcome in outcomes.values():
        if on_outcome is not None:
            on_outcome(outcome)
    todo = [run for run in runs if run.file not in outcomes]
    interrupted = False
    try:
        if todo:
            n_workers = workers or min(usable_cores(), len(todo))
            with dask_client(scheduler, n_workers) as client:
                folder.mkdir(parents=True, exist_ok=True)
                if text is not None:
                    write_atomically(folder / MANIFEST, text)
                _submit_and_collect(client, folder, todo, overwrite, retries, outcomes, on_outcome, on_step,
                                    slots=None if scheduler else n_workers)
        elif text is not None:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / MANIFEST, text)
    except KeyboardInterrupt:
        interrupted = True
    ordered = tuple(outcomes.get(run.file, RunOutcome(run.file, "interrupted")) for run in runs)
    return SweepSummary(folder, ordered, interrupted)


def _outcomes_known_beforehand(folder: Path, runs: Sequence[PlannedRun], overwrite: bool) -> dict[str, RunOutcome]:
    """Finished runs are kept and unreadable files fail without a task; ConfigError for a config clash."""
    outcomes = {}
    for run in runs:
        try:
            status = None if overwrite else existing_status(folder / run.file, run.config)
        except RunFileError as err:
            outcomes[run.file] = RunOutcome(run.file, "failed", error=str(err))
            continue
        if status in FINISHED:
            outcomes[run.file] = RunOutcome(run.file, "kept", status)
    return outcomes


def _submit_and_collect(client, folder: Path, todo: Sequence[PlannedRun], overwrite: bool, retries: int,
                        outcomes: dict[str, RunOutcome], on_outcome, on_step, slots: int | None = None) -> None:
    """Submit the runs longest first and collect their outcomes as they finish.

    `slots` (a local cluster's worker count): only that many runs are with the scheduler at a time, the next
    longest submitted as one finishes. A run with a key of its own is sent to a worker the moment it is
    submitted and queued there, so with all of them submitted at once the default study ran deep third and
    sgd waited behind baseline on one worker while the other sat idle. None (an existing scheduler, whose
    workers may come and go): all at once, longest first in priority.
    """
    from distributed import as_completed

    if on_step is not None:
        client.subscribe_topic(PROGRESS_TOPIC, lambda event: on_step(event[1]["file"], event[1]["step"],
                                                                       event[1]["epochs"], event[1]["loss"]))
    token = uuid.uuid4().hex[:8]  # fresh keys: an existing cluster must not hand back an old sweep's result
    waiting = sorted(todo, key=lambda r: estimated_cost(r.config))  # the longest last: popped first
    futures: dict = {}

    def submit_next():
        rank, run = len(waiting) - 1, waiting.pop()
        future = client.submit(execute_run, run.config.to_json(), str(folder / run.file), overwrite,
                               key=f"train-{run.file}-{token}", retries=retries, priority=rank)
        futures[future] = run.file
        return future

    while waiting and (slots is None or len(futures) < slots):
        submit_next()
    finished = as_completed(list(futures))
    try:
        for future in finished:
            outcome = _outcome_of(future, futures.pop(future))
            if waiting:
                finished.add(submit_next())
            outcomes[outcome.file] = outcome
            if on_outcome is not None:
                on_outcome(outcome)
    except BaseException:
        client.cancel(list(futures))  # queued runs never start; a running one ends with its worker
        raise


def _outcome_of(future, file: str) -> RunOutcome:
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return RunOutcome(file, "interrupted", error="cancelled")
    err = future.exception()
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return RunOutcome(file, "failed", error=f"{type(err).__name__}: {message}" if message else type(err).__name__)
