"""`--output-format concise`: one `path:line:col: CODE [name] message` per finding."""

from __future__ import annotations

from cogvid_lint.report.result import RunResult


def render(result: RunResult) -> str:
    lines = [f"{result.where(d.location)}: {d.code} [{d.name}] {d.message}" for d in result.diagnostics]
    lines.extend(result.notes)
    return "\n".join(lines) + ("\n" if lines else "")
