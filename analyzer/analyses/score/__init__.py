"""Known-answer runs (model diag-linear): every detector scored against the closed form of known.py."""

from analyzer.analyses.score.compute import compute
from analyzer.analyses.score.known import KnownAnswer, ModeSystem, crossing_step, predict
from analyzer.analyses.score.params import ScoreParams
from analyzer.analyses.score.result import ScoreResult
from analyzer.core.registry import Analysis, Tags

ANALYSIS = Analysis(
    name="score", params=ScoreParams, result=ScoreResult, compute=compute, version="4",
    summary="known-answer run (diag-linear): every detector scored against the closed form",
    requires=("plateaus", "spectrum", "hessian", "escape", "correlate"), section=None,
    tags=Tags(reads="checkpoints", run_kind="known-answer"),
)

__all__ = ["ANALYSIS", "KnownAnswer", "ModeSystem", "ScoreParams", "ScoreResult", "crossing_step", "predict"]
