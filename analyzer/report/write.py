"""Writing a rendered report to a folder: refuse before any analysis runs, delete nothing."""

from __future__ import annotations

from pathlib import Path

from analyzer.errors import BadInputError
from analyzer.report.model import Report

REPORT_NAME = "REPORT.md"


def check_output(out_dir: Path | str, overwrite: bool) -> None:
    """Refuse an existing report (unless overwrite) or an unwritable folder before any analysis runs."""
    from trainer.runfile.schema import unwritable_reason

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir} exists and is not a folder")
    if (out_dir / REPORT_NAME).exists() and not overwrite:
        raise BadInputError(f"{out_dir / REPORT_NAME} already exists; pass --overwrite to replace the report "
                            "(other files are kept)")
    reason = unwritable_reason(out_dir)
    if reason:
        raise BadInputError(f"cannot write the report to {out_dir}: {reason}")


def write_report(report: Report, out_dir: Path | str, overwrite: bool = False,
                 processes: int | None = None) -> list[Path]:
    """Write REPORT.md and the figures; refuses an existing report unless `overwrite`, deletes nothing.

    The figures are drawn to PNG in `processes` forked processes at once (None: one per core; 1: here): drawing is
    most of a warm report's time, and each figure is independent. The files are the same bytes either way.
    """
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    target = out_dir / REPORT_NAME
    check_output(out_dir, overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = _save_figures(report.figures, out_dir, processes)
        target.write_text(report.markdown)
    except OSError as err:
        raise BadInputError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None
    finally:
        for fig in report.figures.values():
            plt.close(fig)
    return [*written, target]


FIGURE_DPI = 110
_TO_SAVE: tuple[dict, Path] | None = None  # what forked children draw: inherited, never pickled


def _save_figures(figures: dict, out_dir: Path, processes: int | None) -> list[Path]:
    global _TO_SAVE
    names = list(figures)
    count = min(_processes(processes), len(names))
    if count <= 1:
        for name in names:
            figures[name].savefig(out_dir / name, dpi=FIGURE_DPI)
        return [out_dir / name for name in names]
    import multiprocessing

    _TO_SAVE = (figures, out_dir)
    try:  # fork: the children have the figures already; only names and error texts cross
        with multiprocessing.get_context("fork").Pool(count) as pool:
            failed = [why for why in pool.imap_unordered(_save_one, names) if why]
    finally:
        _TO_SAVE = None
    if failed:
        raise OSError(failed[0])
    return [out_dir / name for name in names]


def _save_one(name: str) -> str:
    """In a forked child: draw one figure to its file; the error text, or "" when written."""
    figures, out_dir = _TO_SAVE
    try:
        figures[name].savefig(out_dir / name, dpi=FIGURE_DPI)
    except OSError as err:
        return err.strerror or str(err)
    return ""


def _processes(asked: int | None) -> int:
    """Processes for drawing: as asked, else one per core this process may use; 1 where fork is unavailable."""
    import multiprocessing
    import os

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if asked is not None:
        return max(1, asked)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def json_summary(report: Report) -> dict:
    return {"report": REPORT_NAME, "figures": sorted(report.figures), "markdown_chars": len(report.markdown),
            "not_available": report.missing}
