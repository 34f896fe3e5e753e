"""The runs of one report, each opened once: its run file and its sidecar cache stay open from the first check to
the last figure, and every step (plan, analyses, pooled tests, sections) reads through them."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from analyzer.core.cache import Cache
from analyzer.core.runner import opened_with_cache
from analyzer.io.run import Run


@dataclass(frozen=True)
class ReportRun:
    """One run of the report: its path, label, open run file and open cache (None without the cache)."""

    path: Path
    label: str
    run: Run
    cache: Cache | None


def labels_for(paths: list[Path]) -> list[str]:
    """Short unique labels: file stems, with the parent folder added where stems clash."""
    stems = [p.name[:-3] if p.name.endswith(".h5") else p.name for p in paths]
    return [f"{p.parent.name}/{s}" if stems.count(s) > 1 else s for p, s in zip(paths, stems)]


@contextlib.contextmanager
def opened_runs(paths: list[Path], use_cache: bool) -> Iterator[list[ReportRun]]:
    """Every run file and its cache, open until the report is rendered."""
    with contextlib.ExitStack() as stack:
        opened = []
        for path, label in zip(paths, labels_for(paths)):
            run, cache = stack.enter_context(opened_with_cache(path, use_cache))
            opened.append(ReportRun(path, label, run, cache))
        yield opened


class Pooled:
    """`pooled(**params)`: an analysis pooled over the report's runs (its `Hooks.pool`), with the report's
    parameters for it and `params` on top; `pooled.params` are the report's parameters."""

    def __init__(self, name: str, runs: list[ReportRun], overrides: dict[str, Any], use_cache: bool, progress=None):
        self.name, self.runs, self.overrides, self.use_cache, self.progress = name, runs, overrides, use_cache, progress

    @property
    def params(self):
        from analyzer.core.registry import get, make_params

        return make_params(get(self.name), **{k: v for k, v in self.overrides.items() if not isinstance(v, dict)})

    def __call__(self, **params: Any):
        from analyzer.core.runner import analyze_pooled

        if self.progress:
            self.progress(f"pooled {self.name}")
        return analyze_pooled([r.run for r in self.runs], self.name, use_cache=self.use_cache,
                              caches=[r.cache for r in self.runs], **{**self.overrides, **params})
