"""What every command shares: one-line errors with the documented exit codes, JSON or rich-table output."""

from __future__ import annotations

import json
from typing import Any

import typer


def fail(message: str, code: int = 2) -> None:
    """One-line error on stderr and exit; never a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(fn):
    """Map the analyzer's and trainer's exceptions to one-line errors with the documented exit codes."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from analyzer.errors import AnalysisFailed, BadInputError
        from trainer.errors import TrainerError

        try:
            return fn(*args, **kwargs)
        except (BadInputError, TrainerError) as err:
            fail(str(err), 2)
        except AnalysisFailed as err:
            fail(str(err), 1)
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper


def emit(result: Any, as_json: bool, extra: dict | None = None) -> None:
    """Print a result: JSON on stdout, or its headline and rich tables."""
    from analyzer.core.serialize import to_jsonable

    if as_json:
        payload = to_jsonable(result)
        if extra:
            payload = {**extra, "result": payload}
        typer.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    from rich.console import Console

    console = Console()
    console.print(result.headline())
    for title, frame in result.tables().items():
        for table_title, table in frame_to_tables(frame, title, console.width):
            console.print(table_title, style="italic", highlight=False)
            console.print(table)


def frame_to_tables(frame, title: str, width: int) -> list:
    """(title, rich table) pairs of a frame, none wider than `width` (the terminal): no header or cell is cut.

    Columns that do not fit beside each other go into further tables that repeat the first (key) column,
    the way pandas wraps a wide frame; a single column wider than the terminal folds its cells. Titles are
    printed above the tables, not as table titles, which rich would wrap to the table's width.
    """
    from rich.cells import cell_len
    from rich.table import Table

    headers = [str(c) for c in frame.columns]
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    natural = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    groups = _column_groups(natural, width)
    tables = []
    for part, group in enumerate(groups, start=1):
        suffix = f" ({part}/{len(groups)})" if len(groups) > 1 else ""
        table = Table()
        for i in group:
            numeric = frame[frame.columns[i]].dtype.kind in "iuf"
            table.add_column(headers[i], justify="right" if numeric else "left", overflow="fold")
        for row in rows:
            table.add_row(*(row[i] for i in group))
        tables.append((title + suffix, table))
    return tables


def _column_groups(natural: list[int], width: int, overhead: int = 3) -> list[list[int]]:
    """Column indices per table: the key column 0, then as many columns as fit in `width` (each column costs
    its width plus padding and a rule; the table one more rule)."""
    if len(natural) <= 1:
        return [list(range(len(natural)))]
    groups, current, used = [], [0], 1 + natural[0] + overhead
    for i in range(1, len(natural)):
        if used + natural[i] + overhead > width and len(current) > 1:
            groups.append(current)
            current, used = [0], 1 + natural[0] + overhead
        current.append(i)
        used += natural[i] + overhead
    return groups + [current]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"
    return str(value)
