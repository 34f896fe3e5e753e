"""One `analyze <name>` command per registered analysis, generated from its Params dataclass.

Every field is an option (`--field-name`, or the flag its `param(cli=...)` names) with the field's help and
its default stated once, in the Params; every field of every analysis it reads is an option too, prefixed
with that analysis's name (`analyze correlate --plateaus-penalty 2`). Options left out keep the defaults.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from analyzer.cli.output import emit, guarded
from analyzer.core.params import optional_kind, spec_of
from analyzer.errors import BadInputError

SEPARATOR = "__"  # python name of a dependency's option: <dependency>__<field>
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout only.")]
OutOpt = Annotated[Optional[Path], typer.Option("-o", "--out", file_okay=False,
                                                help="Also write its report section (REPORT.md + PNG figures) here.")]
OverwriteOpt = Annotated[bool, typer.Option(help="Replace an existing report; other files are kept.")]
CacheOpt = Annotated[Optional[Path], typer.Option("--cache", help="Sidecar cache path.",
                                                  show_default="RUN.analysis.h5")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Recompute and write no cache.")]
RESERVED = {"run", "runs", "as_json", "cache", "no_cache"}


def _kind(field: dataclasses.Field) -> str:
    return optional_kind(field)[0]  # an Optional[int] field is an int option left out by default


def _default_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


def option_flag(field: dataclasses.Field, prefix: str = "") -> str:
    """The option that sets a Params field: `--<prefix><field-name>`, or the name its `param(cli=...)` gives."""
    return "--" + prefix + (spec_of(field).cli or field.name.replace("_", "-"))


def field_option(field: dataclasses.Field, python_name: str, prefix: str = "") -> inspect.Parameter:
    """The typer option of one Params field (default None: the Params default applies)."""
    spec, kind = spec_of(field), _kind(field)
    flag = option_flag(field, prefix)
    help_text = spec.help or field.name
    show = _default_text(field.default) if field.default is not dataclasses.MISSING else None
    if kind == "bool":
        annotation = Annotated[Optional[bool], typer.Option(f"{flag}/--no-{flag[2:]}", help=help_text,
                                                            show_default=show)]
    else:
        python_type = {"int": int, "float": float, "str": str}.get(kind, str)  # tuples: comma-separated text
        annotation = Annotated[Optional[python_type], typer.Option(flag, help=help_text, show_default=show)]
    return inspect.Parameter(python_name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def analysis_options(analysis) -> list[inspect.Parameter]:
    """Options for the analysis's own fields, then for the fields of every analysis it reads."""
    from analyzer.core.registry import dependency_closure, get

    options = []
    for field in dataclasses.fields(analysis.params):
        if field.name in RESERVED:
            raise RuntimeError(f"{analysis.name}: parameter name {field.name!r} is taken by a CLI option")
        options.append(field_option(field, field.name))
    for dep in dependency_closure(analysis.name):
        options += [field_option(field, f"{dep}{SEPARATOR}{field.name}", prefix=f"{dep}-")
                    for field in dataclasses.fields(get(dep).params)]
    return options


def parameters_from_options(analysis, values: dict[str, Any]) -> dict[str, Any]:
    """`analyze` keyword arguments from the option values: own fields, and a dict per dependency."""
    from analyzer.core.registry import get

    given: dict[str, Any] = {}
    for python_name, value in values.items():
        if value is None:
            continue
        dep, _, name = python_name.rpartition(SEPARATOR)
        params = get(dep).params if dep else analysis.params
        value = parse_value(params, name, value, f"{dep}-" if dep else "")
        if dep:
            given.setdefault(dep, {})[name] = value
        else:
            given[name] = value
    return given


def parse_value(params: type, name: str, value: Any, prefix: str) -> Any:
    """Comma-separated text for tuple fields; everything else typer has already converted."""
    field = next(f for f in dataclasses.fields(params) if f.name == name)
    if not _kind(field).startswith("tuple"):
        return value
    try:
        return tuple(int(part) for part in str(value).split(",") if part.strip())
    except ValueError:
        raise BadInputError(f"{option_flag(field, prefix)} must be comma-separated integers, got {value!r}") from None


def with_signature(fn: Callable, leading: list[inspect.Parameter], options: list[inspect.Parameter],
                   trailing: list[inspect.Parameter]) -> Callable:
    """`fn(**values)` presented to typer as a function of these parameters."""
    fn.__signature__ = inspect.Signature([*leading, *options, *trailing])
    fn.__annotations__ = {}  # typer resolves string annotations in the wrapper's module otherwise
    return fn


def _common(cache: bool = True) -> list[inspect.Parameter]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    common = [inspect.Parameter("as_json", keyword, default=False, annotation=JsonOpt)]
    if cache:
        common.append(inspect.Parameter("cache", keyword, default=None, annotation=CacheOpt))
    return common + [inspect.Parameter("no_cache", keyword, default=False, annotation=NoCacheOpt)]


def add_analysis_command(app: typer.Typer, analysis) -> None:
    """`analyze <name> RUN [options]`: the analysis on one run, through its cache (`analyze <name> [options]` for
    an analysis that needs no run: computed afresh, no cache)."""
    options = analysis_options(analysis)
    if not analysis.needs_run:
        _add_runless_command(app, analysis, options)
        return
    if analysis.hooks.pool is not None:
        _add_pooled_command(app, analysis, options)
        return
    run_arg = inspect.Parameter("run", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[
        Path, typer.Argument(help="Run file (.h5) written by `train`.")])  # no dir_okay: open_run says it in one line

    def command(run: Path, as_json: bool = False, cache: Path | None = None, no_cache: bool = False, **values):
        from analyzer.core import progress
        from analyzer.core.runner import analyze

        with progress.display(f"analyze {analysis.name}"):  # a bar on a terminal, one-line updates otherwise
            result = analyze(run, analysis.name, cache=cache, use_cache=not no_cache,
                             **parameters_from_options(analysis, values))
        emit(result, as_json)

    wrapped = guarded(command)
    del wrapped.__wrapped__  # typer reads the signature set below, not the inner function's
    with_signature(wrapped, [run_arg], options, _common())
    app.command(name=analysis.name, help=analysis.summary[:1].upper() + analysis.summary[1:] + ".")(wrapped)


def _add_pooled_command(app: typer.Typer, analysis, options: list[inspect.Parameter]) -> None:
    """`analyze <name> RUN...`: one or more runs, several pooled (`Hooks.pool`), each through its own cache."""
    runs_arg = inspect.Parameter("runs", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[
        list[Path], typer.Argument(help="One or more run files; several are pooled.")])

    def command(runs: list[Path], as_json: bool = False, no_cache: bool = False, **values):
        from analyzer.core.runner import analyze_pooled

        emit(analyze_pooled(list(runs), analysis.name, use_cache=not no_cache,
                            **parameters_from_options(analysis, values)), as_json)

    wrapped = guarded(command)
    del wrapped.__wrapped__
    with_signature(wrapped, [runs_arg], options, _common(cache=False))
    app.command(name=analysis.name, help=analysis.summary[:1].upper() + analysis.summary[1:]
                + "; one run, or several pooled.")(wrapped)


def _add_runless_command(app: typer.Typer, analysis, options: list[inspect.Parameter]) -> None:
    def command(as_json: bool = False, out: Path | None = None, overwrite: bool = False, **values):
        from analyzer.core.runner import analyze

        if out is not None:
            from analyzer.report.write import check_output

            check_output(out, overwrite)  # refuse before anything is computed
        result = analyze(None, analysis.name, **parameters_from_options(analysis, values))
        if out is not None:
            from analyzer.report.build import runless_report
            from analyzer.report.write import write_report

            written = write_report(runless_report(analysis, result), out, overwrite=overwrite)
            typer.echo(f"wrote {Path(out) / 'REPORT.md'} and {len(written) - 1} figures", err=True)
        emit(result, as_json)

    wrapped = guarded(command)
    del wrapped.__wrapped__
    keyword = inspect.Parameter.KEYWORD_ONLY
    trailing = [inspect.Parameter("as_json", keyword, default=False, annotation=JsonOpt),
                inspect.Parameter("out", keyword, default=None, annotation=OutOpt),
                inspect.Parameter("overwrite", keyword, default=False, annotation=OverwriteOpt)]
    with_signature(wrapped, [], options, trailing)
    app.command(name=analysis.name, help=analysis.summary[:1].upper() + analysis.summary[1:] + " (needs no run).")(
        wrapped)


def add_generated_commands(app: typer.Typer) -> None:
    """One command per registered analysis, in registry order."""
    from analyzer.core.registry import get, names

    for name in names():
        add_analysis_command(app, get(name))
