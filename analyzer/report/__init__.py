"""Markdown reports with PNG figures for one run or several side by side (build, then write).

The sections come from the registry: each analysis brings its own (analyzer/analyses/<name>/section.py).
"""

from analyzer.report.build import build_report, render
from analyzer.report.model import Report, ReportOptions
from analyzer.report.write import REPORT_NAME, check_output, json_summary, write_report
from analyzer.sections.markdown import markdown_table
from analyzer.sections.run_analyses import RunAnalyses

__all__ = ["REPORT_NAME", "Report", "ReportOptions", "RunAnalyses", "build_report", "check_output", "json_summary",
           "markdown_table", "render", "write_report"]
