"""Exceptions the trainer raises for bad input; the CLI turns them into one-line errors."""


class TrainerError(Exception):
    """Base class for the trainer's own errors."""


class ConfigError(TrainerError, ValueError):
    """A configuration value is out of range or inconsistent."""


class RunFileError(TrainerError):
    """A run file cannot be created, opened or resumed."""
