"""`--output-format full` (default): a rich report grouped by file, with why and how to fix,
a summary per rule and severity, and where each setting came from."""

from __future__ import annotations

import io
from collections import Counter
from itertools import groupby

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cogvid_lint.report.result import RunResult, printable


def _safe(text: str) -> str:
    """Markup-escaped and with control characters escaped (rich passes ESC through)."""
    return escape(printable(text))

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


# What stands left of a finding's text: `  {line:>6} {severity:<7} `; wrapped text lines up after it.
INDENT = 17


def render(result: RunResult) -> str:
    buffer = io.StringIO()
    # A known width (the terminal's) wraps long lines under the finding's text; without one
    # (a pipe, a file) each finding stays on its line, for grep.
    console = Console(file=buffer, force_terminal=result.color, no_color=not result.color,
                      width=result.width or (None if result.color else 160), highlight=False,
                      soft_wrap=result.width is None)

    def line(left: str, right: str) -> None:
        if result.width is None or result.width <= 2 * INDENT:
            console.print(left + right)
            return
        lines = Text.from_markup(right).wrap(console, result.width - INDENT, overflow="fold")
        for n, text in enumerate(lines):
            text.rstrip()
            console.print(Text.assemble(Text.from_markup(left) if n == 0 else " " * INDENT, text))

    for path, group in groupby(result.diagnostics, key=lambda d: d.location.path):
        group = list(group)
        console.print(f"[bold]{_safe(result.relpath(path))}[/bold]")
        for d in group:
            place = f"{d.location.line}" if d.location.line is not None else ""
            if d.location.column is not None:
                place += f":{d.location.column}"
            anchor = ""
            if d.anchor is not None and d.anchor.path != d.location.path:
                anchor = f" [dim](listed at {_safe(result.where(d.anchor))})[/dim]"
            style = STYLE[d.severity.value]
            line(f"  {place:>6} [{style}]{d.severity.value:<7}[/{style}] ",
                 f"[bold]{d.code}[/bold] [dim]{d.name}[/dim]  {_safe(d.message)}{anchor}")
            rule = result.rule(d.code)
            if rule is not None:
                line(" " * INDENT, f"[dim]why:[/dim] {_safe(rule.summary)}")
                hint = d.fix.title if d.fix is not None else d.hint
                if hint:
                    label = "fix:" if d.fix is not None else "hint:"
                    line(" " * INDENT, f"[dim]{label}[/dim] {_safe(hint)}")
        console.print()
    if result.quiet:  # the findings only
        return buffer.getvalue()
    if result.diagnostics:
        _summary(console, result)
    # a run of the code rules alone never resolves the datasets (it would walk the tree)
    if result.show_settings and result.settings is not None and result.datasets:
        _settings(console, result)
    for note in result.notes:
        console.print(_safe(note))
    counts = result.counts()
    total = sum(counts.values())
    if total:
        parts = ", ".join(f"[{STYLE[k]}]{v} {k}{'s' if v != 1 and k != 'info' else ''}[/{STYLE[k]}]"
                          for k, v in counts.items() if v)
        safe = sum(1 for d in result.diagnostics if d.fix is not None and d.fix.applicability.value == "safe")
        unsafe = sum(1 for d in result.diagnostics if d.fix is not None) - safe
        tail = f"; {safe} fixable with --fix" if safe else ""
        if unsafe:
            tail += f"{'; ' if not safe else ', '}{unsafe} with --fix --unsafe-fixes"
        console.print(f"Found {total} problem{'s' if total != 1 else ''} ({parts}){tail}.")
    else:
        console.print("[green]All checks passed.[/green]")
    return buffer.getvalue()


def _summary(console: Console, result: RunResult) -> None:
    table = Table(title="Findings by rule", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("code", "name", "severity", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    counter = Counter((d.code, d.name, d.severity.value) for d in result.diagnostics)
    for (code, name, severity), count in sorted(counter.items()):
        table.add_row(code, name, f"[{STYLE[severity]}]{severity}[/{STYLE[severity]}]", str(count))
    console.print(table)
    console.print()


def _settings(console: Console, result: RunResult) -> None:
    table = Table(title="Settings and where they came from", title_justify="left", show_edge=False,
                  pad_edge=False)
    for column in ("dataset", "setting", "value", "source"):
        table.add_column(column)
    for name, key, value, source in result.setting_rows():  # a dataset's name on its first row only
        table.add_row(_safe(name) if key == "data_root" else "", key, _safe(value), _safe(source))
    console.print(table)
    console.print()
