"""What a report is made of: its options and the rendered result (each run's analyses: analyzer/sections/run_analyses.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReportOptions:
    """What to compute and how: per-analysis parameter overrides, cache use, analyses left out."""

    use_cache: bool = True
    left_out: tuple[str, ...] = ()  # analyses not computed (`--no-<name>` of an analysis with a report_switch)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # analysis name -> parameters
    title: str = ""
    workers: int | None = None  # Dask workers for the analyses; None: one per core when a Hessian is to compute
    scheduler: str | None = None  # address of an existing Dask scheduler
    draw_processes: int | None = 1  # forked processes drawing the runs' sections (None: one per core; draw.py)


@dataclass
class Report:
    markdown: str
    figures: dict[str, Any]  # file name -> matplotlib Figure, or its PNG bytes when drawn already (draw.py)
    missing: list[str] = field(default_factory=list)  # "run: analysis (why)" for each section left out
