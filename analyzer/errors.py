"""Exceptions of the analyzer: bad input (exit 2) versus an analysis failing on valid input (exit 1)."""


class AnalyzerError(Exception):
    """Base class for the analyzer's own errors."""


class BadInputError(AnalyzerError, ValueError):
    """The run file or an option is unusable; the CLI exits with code 2."""


class AnalysisFailed(AnalyzerError):
    """An analysis could not produce a result on valid input; the CLI exits with code 1."""
