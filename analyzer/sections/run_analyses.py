"""One run's analyses as a section reads them: `RunAnalyses`, and the run's loss read again from its file."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class RunAnalyses:
    """Everything the report shows about one run."""

    label: str
    path: Path
    fingerprint: str
    status: str
    n_steps: int
    config: dict
    target: dict
    results: dict[str, Any]  # analysis name -> result (None when it could not be computed)
    notes: dict[str, str]  # analysis name -> why it is missing
    run: Any = None  # the open run file while the report is built (sections read it instead of reopening it)
    cache: Any = None  # its open sidecar cache (None: the default one, opened when read)


def loss_of(run: RunAnalyses) -> tuple[np.ndarray, np.ndarray]:
    """The run's logged steps and training loss, read again from its file (results hold no copy of it); an
    imported run may log some steps only."""
    with opened_file(run) as opened:
        return opened.steps[: run.n_steps], opened.loss[: run.n_steps]


@contextlib.contextmanager
def opened_file(run: RunAnalyses):
    """The run's file: the one the report holds open, or opened for this read."""
    if run.run is not None:
        yield run.run
        return
    from analyzer.io.run import open_run

    with open_run(run.path) as opened:
        yield opened


MSE_LABEL = "training loss (MSE)"


def loss_name(run: RunAnalyses) -> str:
    """'training loss (MSE)' or 'training loss (user-defined: NAME)': which loss the run logged."""
    from trainer.runfile.loss_log import loss_label

    return loss_label(run.config.get("loss"))
