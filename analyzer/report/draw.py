"""Drawing a report's figures in forked processes: most of a report's time once its analyses are cached.

A figure is independent of the others, so each run's sections (their Markdown and their figures, drawn to PNG) can
be made in a child process while this one makes the comparison section, and the figures still to draw can be drawn
several at once. Children are forked (where the platform has fork): they start with the analysed runs in memory
and send back only Markdown lines and PNG bytes. A child reads the run files and caches through the read-only handles
it inherits (HDF5 reads them with positioned reads, and no other thread of this process is inside h5py when it
forks), so each file is still opened once; nothing is written but the report's own files. The files are the same
bytes as when drawn here.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Callable

FIGURE_DPI = 110
_SHARED: Any = None  # what the forked children read: inherited with the process, never pickled


def processes_for(asked: int | None) -> int:
    """Processes to draw in: as asked, else one per core this process may use; 1 where fork is unavailable."""
    import multiprocessing

    from trainer.sweep.cluster import usable_cores

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, asked) if asked is not None else usable_cores()


@contextlib.contextmanager
def _forked_pool(count: int, shared: Any):
    import multiprocessing

    global _SHARED
    _SHARED = shared
    try:
        with multiprocessing.get_context("fork").Pool(count) as pool:
            yield pool
    finally:
        _SHARED = None


def png_bytes(fig) -> bytes:
    """The figure drawn to PNG (the report's resolution), then closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=FIGURE_DPI)
    plt.close(fig)
    return buffer.getvalue()


def sections_in_children(runs: list, sections: Callable, processes: int, meanwhile: Callable[[], Any]):
    """[(lines, {figure name: PNG bytes})] of `sections(run, figs)` for each run, made in up to `processes` forked
    children, and what `meanwhile()` returns, called here while they work."""
    with _forked_pool(min(processes, len(runs)), (runs, sections)) as pool:
        pending = pool.map_async(_drawn_sections, range(len(runs)), chunksize=1)
        here = meanwhile()
        return pending.get(), here


def _drawn_sections(index: int) -> tuple[list[str], dict[str, bytes]]:
    """In a forked child: one run's sections, reading through the run file and cache handles this process opened
    (inherited: each file stays opened once; reads are positioned, so the parent's reads do not move the child's)."""
    runs, sections = _SHARED
    figs: dict[str, Any] = {}
    lines = sections(runs[index], figs)
    return lines, {name: png_bytes(fig) for name, fig in figs.items()}


def save_figures(figures: dict, out_dir: Path, processes: int | None) -> list[Path]:
    """Each figure to out_dir/name: PNG bytes written as they are, figures drawn (several at once when they are
    several and `processes` allows)."""
    to_draw = [name for name, fig in figures.items() if not isinstance(fig, bytes)]
    for name, fig in figures.items():
        if isinstance(fig, bytes):
            (out_dir / name).write_bytes(fig)
    count = min(processes_for(processes), len(to_draw))
    if count <= 1:
        for name in to_draw:
            figures[name].savefig(out_dir / name, dpi=FIGURE_DPI)
    else:
        with _forked_pool(count, (figures, out_dir)) as pool:  # only names and error texts cross
            failed = [why for why in pool.imap_unordered(_save_one, to_draw) if why]
        if failed:
            raise OSError(failed[0])
    return [out_dir / name for name in figures]


def _save_one(name: str) -> str:
    """In a forked child: draw one figure to its file; the error text, or "" when written."""
    figures, out_dir = _SHARED
    try:
        figures[name].savefig(out_dir / name, dpi=FIGURE_DPI)
    except OSError as err:
        return err.strerror or str(err)
    return ""
