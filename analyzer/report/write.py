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


def write_report(report: Report, out_dir: Path | str, overwrite: bool = False) -> list[Path]:
    """Write REPORT.md and the figures; refuses an existing report unless `overwrite`, deletes nothing."""
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    target = out_dir / REPORT_NAME
    check_output(out_dir, overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, fig in report.figures.items():
            fig.savefig(out_dir / name, dpi=110)
            plt.close(fig)
            written.append(out_dir / name)
        target.write_text(report.markdown)
    except OSError as err:
        raise BadInputError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None
    return [*written, target]


def json_summary(report: Report) -> dict:
    return {"report": REPORT_NAME, "figures": sorted(report.figures), "markdown_chars": len(report.markdown),
            "not_available": report.missing}
