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

    Figures not yet drawn are drawn in up to `processes` forked processes at once (None: one per core; 1: here);
    the files are the same bytes either way (draw.py).
    """
    import matplotlib.pyplot as plt

    from analyzer.report.draw import save_figures

    out_dir = Path(out_dir)
    target = out_dir / REPORT_NAME
    check_output(out_dir, overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = save_figures(report.figures, out_dir, processes)
        target.write_text(report.markdown)
    except OSError as err:
        raise BadInputError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None
    finally:
        for fig in report.figures.values():
            if not isinstance(fig, bytes):
                plt.close(fig)
    return [*written, target]


def json_summary(report: Report) -> dict:
    return {"report": REPORT_NAME, "figures": sorted(report.figures), "markdown_chars": len(report.markdown),
            "not_available": report.missing}
