"""`analyze`: the typer app. Commands are thin (parse, call the library, print): `info`, one generated command per
registered analysis (generated.py; several runs for one that pools them), the report with options from the registry
(report.py), and the hand-written study (commands.py).

Exit codes: 0 ok (also when nothing is found), 1 an analysis failed on valid input, 2 bad input.
Progress goes to stderr; with --json, stdout carries only JSON.
"""

from __future__ import annotations

import typer

from analyzer.cli import commands
from analyzer.cli.generated import add_generated_commands
from analyzer.cli.report import add_report_command

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Analyze run files offline: plateaus, spectra, Hessian saddles, their correlation, reports.")


@app.callback()
def _group() -> None:
    """Analyze run files offline: plateaus, spectra, Hessian saddles, their correlation, reports."""


commands.add_info_command(app)
add_generated_commands(app)
add_report_command(app)
commands.add_study_command(app)


def main() -> None:
    app()
