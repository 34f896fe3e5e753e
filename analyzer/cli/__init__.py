"""The `analyze` command line (console script `analyzer.cli:main`; also `python -m analyzer.cli`)."""

from analyzer.cli.app import app, main

__all__ = ["app", "main"]
