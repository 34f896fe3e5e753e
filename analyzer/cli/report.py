"""`analyze report RUN... -o OUT`: its options come from the registry: `--<name>/--no-<name>` for an analysis with
a `report_switch`, `--<name>-<param>` for every parameter of every analysis the report computes, and each
analysis's `report_aliases` (`--penalty`, `--threshold`, `--permutations`: one option may set several analyses'
parameters)."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from analyzer.cli.generated import SEPARATOR, JsonOpt, NoCacheOpt, field_option, parse_value, with_signature
from analyzer.cli.output import guarded
from analyzer.core.params import optional_kind, spec_of

SWITCH, ALIAS = "switch" + SEPARATOR, "alias" + SEPARATOR  # python names of the generated options


def report(runs: list[Path], out: Path, overwrite: bool = False, title: str = "", workers: Optional[int] = None,
           scheduler: Optional[str] = None, as_json: bool = False, no_cache: bool = False, **values: Any) -> None:
    """Markdown report with figures for one run, or several side by side, from cached analyses."""
    from analyzer.core import progress
    from analyzer.report import ReportOptions, build_report, check_output, json_summary, write_report

    check_output(out, overwrite)  # refuse before any analysis runs
    left_out = tuple(name[len(SWITCH):] for name, on in values.items() if name.startswith(SWITCH) and on is False)
    options = ReportOptions(use_cache=not no_cache, left_out=left_out, overrides=overrides_from(values), title=title,
                            workers=workers, scheduler=scheduler, draw_processes=workers)
    with progress.display("analyze report"):  # the plan up front, then a bar on a terminal, lines otherwise
        built = build_report(list(runs), options, progress=lambda text: progress.task(f"analyzing {text}"),
                             plan=progress.note)
    written = write_report(built, out, overwrite=overwrite, processes=workers)
    if as_json:
        typer.echo(json.dumps({**json_summary(built), "folder": str(out), "files": [str(p) for p in written]}))
    else:
        missing = f"; not available: {'; '.join(built.missing)}" if built.missing else ""
        typer.echo(f"wrote {out / 'REPORT.md'} and {len(written) - 1} figures{missing}", err=True)


def overrides_from(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Analysis name -> parameters: the aliases first, each analysis's own `--<name>-<param>` on top."""
    from analyzer.core.registry import get

    given: dict[str, dict[str, Any]] = {}
    for option, value in values.items():
        if option.startswith(ALIAS) and value is not None:
            for name, field in alias_targets()[option[len(ALIAS):]]:
                given.setdefault(name, {})[field] = parse_value(get(name).params, field, value, "")
    for option, value in values.items():
        if value is not None and not option.startswith((ALIAS, SWITCH)):
            name, _, field = option.partition(SEPARATOR)
            given.setdefault(name, {})[field] = parse_value(get(name).params, field, value, f"{name}-")
    return given


def alias_targets() -> dict[str, list[tuple[str, str]]]:
    """Report alias -> the (analysis, parameter) pairs it sets, in registry order."""
    from analyzer.core.registry import get, names

    targets: dict[str, list[tuple[str, str]]] = {}
    for name in names():
        for option, field in get(name).hooks.report_aliases:
            targets.setdefault(option, []).append((name, field))
    return targets


def _generated_options() -> list[inspect.Parameter]:
    from analyzer.core.registry import get, names

    keyword, options = inspect.Parameter.KEYWORD_ONLY, []
    for name in names():
        if get(name).hooks.report_switch:
            options.append(inspect.Parameter(f"{SWITCH}{name}", keyword, default=True, annotation=Annotated[
                bool, typer.Option(f"--{name}/--no-{name}", help=get(name).hooks.report_switch)]))
    for option, pairs in alias_targets().items():
        name, field_name = pairs[0]
        field = next(f for f in dataclasses.fields(get(name).params) if f.name == field_name)
        python_type = {"int": int, "float": float, "str": str}.get(optional_kind(field)[0], str)
        setting = ", ".join(f"{n}'s {f}" for n, f in pairs)
        options.append(inspect.Parameter(f"{ALIAS}{option}", keyword, default=None, annotation=Annotated[
            Optional[python_type], typer.Option(f"--{option}", help=f"Sets {setting}: {spec_of(field).help}")]))
    for name in names():
        if get(name).hooks.in_report:  # the others are shown, when cached, at their defaults
            options += [field_option(field, f"{name}{SEPARATOR}{field.name}", prefix=f"{name}-")
                        for field in dataclasses.fields(get(name).params)]
    return options


def add_report_command(app: typer.Typer) -> None:
    keyword = inspect.Parameter.KEYWORD_ONLY
    runs_arg = inspect.Parameter("runs", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[
        list[Path], typer.Argument(help="One or more run files, shown side by side.")])
    fixed = [
        inspect.Parameter("out", keyword, annotation=Annotated[Path, typer.Option(
            "-o", "--out", help="Report folder (REPORT.md + PNG figures).", file_okay=False)]),
        inspect.Parameter("overwrite", keyword, default=False, annotation=Annotated[bool, typer.Option(
            help="Replace an existing report; other files are kept.")])]
    trailing = [
        inspect.Parameter("title", keyword, default="", annotation=Annotated[str, typer.Option(help="Report title.")]),
        inspect.Parameter("workers", keyword, default=None, annotation=Annotated[Optional[int], typer.Option(
            help="Local Dask worker processes for the analyses, one thread each, and as many forked processes drawing "
                 "the figures; 1 does everything in this process.",
            show_default="one per core when an analysis that splits into parts (the Hessian) is to be computed")]),
        inspect.Parameter("scheduler", keyword, default=None, annotation=Annotated[Optional[str], typer.Option(
            help="Address of an existing Dask scheduler (tcp://HOST:PORT) instead of a local cluster.")]),
        inspect.Parameter("as_json", keyword, default=False, annotation=JsonOpt),
        inspect.Parameter("no_cache", keyword, default=False, annotation=NoCacheOpt)]
    wrapped = guarded(report)
    del wrapped.__wrapped__  # typer reads the signature set below
    with_signature(wrapped, [runs_arg], fixed + _generated_options(), trailing)
    app.command(name="report")(wrapped)
