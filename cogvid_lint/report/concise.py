"""`--output-format concise`: one `path:line:col: CODE [name] message` per finding."""

from __future__ import annotations

from cogvid_lint.report.result import RunResult, printable


def render(result: RunResult) -> str:
    lines = [printable(f"{result.where(d.location)}: {d.code} [{d.name}] {d.message}") for d in result.diagnostics]
    if not result.quiet:
        lines.extend(printable(note) for note in result.notes)
    return "\n".join(lines) + ("\n" if lines else "")
