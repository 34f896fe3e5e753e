"""Shared fixtures: small, fast configurations and run files."""

from __future__ import annotations

import pytest
from helpers import small_config


@pytest.fixture
def small():
    return small_config


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A 300-step baseline-shaped run file shared by read-only tests."""
    from trainer.engines.loop import train

    path = tmp_path_factory.mktemp("runs") / "small.h5"
    train(small_config(epochs=300), path)
    return path


@pytest.fixture(scope="session")
def known_run(tmp_path_factory):
    """A known-answer run (diag-linear preset: 1,500 steps, checkpoints every 10, ~1 s to train) shared by
    read-only tests; every analysis, `score` included, runs on it."""
    from trainer.config import PRESETS
    from trainer.engines.loop import train

    path = tmp_path_factory.mktemp("known-runs") / "known.h5"
    train(PRESETS["diag-linear"], path)
    return path
