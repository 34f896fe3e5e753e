"""The run files of a study in this process, each opened once: a run file and its sidecar cache stay open from the
run's cost (its scheduling priority) through its summary to the last figure that reads it (the median seeds'
heatmaps), and every read goes through them."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

# Runs kept open at once (two files each, well under a usual limit of 1,024 open files); beyond it the least
# recently read run is closed, and opened again if read again.
MAX_OPEN_RUNS = 200


class RunFiles:
    """Each run's file and (with the cache) its sidecar cache, opened on first use and kept open until `close`."""

    def __init__(self, use_cache: bool = True, max_open: int = MAX_OPEN_RUNS):
        self.use_cache, self.max_open = use_cache, max_open
        self._open: OrderedDict[str, tuple[Any, Any, contextlib.ExitStack]] = OrderedDict()

    def __enter__(self) -> "RunFiles":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        while self._open:
            self._open.popitem(last=False)[1][2].close()

    def opened(self, path: str | Path) -> tuple[Any, Any]:
        """(the open Run, its open Cache or None without the cache); opening errors propagate (a damaged run)."""
        from analyzer.core.runner import opened_with_cache

        key = str(path)
        if key not in self._open:
            with contextlib.ExitStack() as stack:
                run, cache = stack.enter_context(opened_with_cache(path, self.use_cache))
                self._open[key] = (run, cache, stack.pop_all())
            while len(self._open) > self.max_open:
                self._open.popitem(last=False)[1][2].close()
        self._open.move_to_end(key)
        run, cache, _ = self._open[key]
        return run, cache

    def result(self, path: str | Path, name: str, **overrides: Any) -> Any:
        """analyze(path, name, **overrides) through the open run and cache."""
        from analyzer.core.runner import analyze

        run, cache = self.opened(path)
        return analyze(run, name, cache=cache, use_cache=self.use_cache, **overrides)

    def cost(self, path: str | Path) -> int:
        """The run's scheduling cost (core.parallel.file_cost), its model read through the open run."""
        from analyzer.core.parallel import file_cost

        try:
            model_spec = dict(self.opened(path)[0].model_spec)
        except Exception:  # noqa: BLE001 -- a damaged run is reported by its summary, not by its priority
            model_spec = {}
        return file_cost(path, model_spec)
