"""The body of `analyze study`: options, a progress bar over runs on stderr, printing and writing the report."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from analyzer.errors import BadInputError


def run_study_command(inputs: list[str], *, out: Path | None, overwrite: bool, workers: int | None,
                      scheduler: str | None, hessian: bool, permutations: int, resamples: int, seed: int,
                      title: str, as_json: bool, use_cache: bool, null: str | None = None,
                      group_by: tuple[str, ...] = ()) -> None:
    from analyzer.report.write import check_output, write_report
    from analyzer.study.build import run_study
    from analyzer.study.collect import StudyOptions
    from analyzer.study.files import RunFiles
    from analyzer.study.report import render, to_json

    from analyzer.stats import DEFAULT_NULL, NULLS

    if permutations < 1 or resamples < 100:
        raise BadInputError("--permutations must be at least 1 and --resamples at least 100")
    # named: a group of one run under a swap-type null is bad input; the default leaves such a group out
    strict, null = null is not None, null or DEFAULT_NULL
    if null not in NULLS:
        raise BadInputError(f"--null must be one of {', '.join(NULLS)}, got {null!r}")
    if out is not None:
        check_output(out, overwrite)  # refuse before any analysis runs
    options = StudyOptions(hessian=hessian, use_cache=use_cache, workers=workers, scheduler=scheduler,
                           n_permutations=permutations, n_resamples=resamples, seed=seed, null=null,
                           strict_null=strict, group_by=group_by)
    with RunFiles(use_cache) as files:  # each run opened once, from its summary to the report's last figure
        with _RunProgress() as progress:
            study = run_study(inputs, options, on_start=progress.start, on_done=progress.advance, files=files,
                              on_plan=progress.plan)
        if out is not None:
            command = "analyze study " + " ".join(shlex.quote(str(i)) for i in inputs) \
                + f" -o {shlex.quote(str(out))}" + (f" --null {null}" if strict else "") \
                + (f" --group-by {','.join(group_by)}" if group_by else "")
            written = write_report(render(study, title=title, command=command), out, overwrite=overwrite)
            print(f"wrote {Path(out) / 'REPORT.md'} and {len(written) - 1} figures", file=sys.stderr)
    if as_json:
        print(json.dumps(to_json(study), indent=2, allow_nan=False))
    else:
        _print_summary(study)


class _RunProgress:
    """Progress on stderr (a rich bar on a terminal, one-line updates otherwise): the plan up front, then the
    Hessian checkpoints as the workers finish them (a line each in a log) and each run as its jobs are done;
    failures are named as they come back. Without the cache the workers compute whole runs: runs are counted."""

    def __enter__(self):
        from analyzer.core import progress

        self.progress, self.total, self.done = progress, 0, 0
        self.display = progress.display("analyze study")
        self.display.__enter__()
        return self

    def start(self, total: int) -> None:
        self.total = total
        self.progress.task("analyzing runs", total, "runs")

    def plan(self, planned) -> None:
        """A line of the plan (said as it is drawn up), or the whole plan once drawn up."""
        if isinstance(planned, str):
            self.progress.note(planned)
            return
        if planned.checkpoints and planned.by_checkpoint:  # counted as the workers plan them and finish them (core/parallel.py)
            self.progress.task("Hessian checkpoints on Dask workers", 0, "checkpoints")

    def advance(self, outcome) -> None:
        from analyzer.study.collect import SkippedRun

        self.done += 1
        if isinstance(outcome, SkippedRun):
            self.progress.note(f"skipped {outcome.path}: {outcome.reason}")
        else:
            self.progress.note(f"{self.done} of {self.total} run(s) done ({Path(outcome.path).name})")
        self.progress.tick(1, "runs")

    def __exit__(self, *exc):
        return self.display.__exit__(*exc)


def _print_summary(study) -> None:
    from rich.console import Console
    from rich.markup import escape

    from analyzer.cli.output import frame_to_tables

    console = Console()
    for item in study.verdicts:
        console.print(f"[bold]{escape(item.observation)}: {item.verdict}[/bold] - {escape(item.evidence)}",
                      highlight=False)
    table = study.results["spectral_bias"]["table"].rename(columns={"mode": "Hz", "n_not_learned": "not learned",
                                                "n_reached_then_lost": "reached, lost"})
    for title, rich_table in frame_to_tables(table, "learned step across seeds (mean, 95 % bootstrap CI)", console.width):
        console.print(title, style="italic", highlight=False)
        console.print(rich_table)
    if study.skipped:
        console.print(f"{len(study.skipped)} run(s) skipped: " + "; ".join(f"{s.path}: {s.reason}" for s in study.skipped),
                      markup=False, highlight=False)
