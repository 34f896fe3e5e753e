"""The `train` command line (console script `trainer.cli:main`; also `python -m trainer.cli`)."""

from trainer.cli.app import app, main

__all__ = ["app", "main"]
