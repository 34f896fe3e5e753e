"""The uniform null (diagnostic): each jump redrawn uniformly in steps over its run's range."""

from __future__ import annotations

from analyzer.stats.nulls.log_uniform import LogUniform


class Uniform(LogUniform):
    """The log-uniform null on a linear axis: distances in steps. Independent log-spread jumps and references look
    'close' on a linear axis, which is why every other null works in log-step (a diagnostic)."""

    name = "uniform"
    keeps = "each run's references and its number of jumps, on a linear step axis"
    axis = "steps"


NULL = Uniform
