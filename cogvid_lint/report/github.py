"""`--output-format github`: GitHub Actions workflow commands, one annotation per finding.

Chosen automatically when GITHUB_ACTIONS=true. GitHub shows only ten annotations per
severity per step, so `summary_markdown` also renders every finding as a Markdown table for
`$GITHUB_STEP_SUMMARY` (written by the check command, not here: reporters only format).
"""

from __future__ import annotations

import os
from collections import Counter

from cogvid_lint.report import ci
from cogvid_lint.report.result import RunResult, printable

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}
SUMMARY_ROWS = 1000  # the step summary is capped at 1 MiB


def escape_data(text: str) -> str:
    """A command's message: GitHub decodes %25, %0D and %0A; other controls are escaped
    (the log viewer is a terminal: ESC sequences would drive it)."""
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    """A property value (file, title) additionally must not hold `:` or `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: RunResult) -> str:
    lines = []
    for d in result.diagnostics:
        where = ci.primary(d)
        props = [f"file={escape_property(ci.project_path(result, where.path))}"]
        if where.line is not None:
            props.append(f"line={where.line}")
            if where.column is not None:
                props.append(f"col={where.column}")
        props.append(f"title={escape_property(f'cogvid-lint ({d.code})')}")
        text = f"{ci.message(result, d)} [{d.name}]"
        lines.append(f"::{COMMAND[d.severity.value]} {','.join(props)}::{escape_data(text)}")
    lines.append(_total(result))
    return "\n".join(lines) + "\n"


def _total(result: RunResult) -> str:
    counts = result.counts()
    total = sum(counts.values())
    if not total:
        return "cogvid-lint: all checks passed."
    parts = ", ".join(f"{n} {sev}{'s' if n != 1 and sev != 'info' else ''}" for sev, n in counts.items() if n)
    return f"cogvid-lint: {total} problem{'s' if total != 1 else ''} ({parts})."


def _cell(text: str) -> str:
    return printable(" ".join(text.split())).replace("|", "\\|")


def summary_markdown(result: RunResult) -> str:
    """A Markdown report for the job's summary page: counts per rule, then every finding."""
    out = ["## cogvid-lint", "", _total(result).removeprefix("cogvid-lint: ").capitalize(), ""]
    if result.html_report:  # the page with each clip's frames, uploaded as the run's artifact
        where = f" ([this run's artifacts]({result.run_url}#artifacts))" if result.run_url else ""
        out += [f"The full report, with the frames the trainer takes of each clip: "
                f"`{_cell(os.path.basename(result.html_report))}`{where}.", ""]
    if not result.diagnostics:
        return "\n".join(out) + "\n"
    out += ["| code | name | severity | count |", "| --- | --- | --- | ---: |"]
    counts = Counter((d.code, d.name, d.severity.value) for d in result.diagnostics)
    out += [f"| {code} | {name} | {sev} | {n} |" for (code, name, sev), n in sorted(counts.items())]
    out += ["", "| severity | location | code | message |", "| --- | --- | --- | --- |"]
    for d in result.diagnostics[:SUMMARY_ROWS]:
        where = ci.primary(d)
        place = ci.project_path(result, where.path) + (f":{where.line}" if where.line is not None else "")
        out.append(f"| {d.severity.value} | `{_cell(place)}` | {d.code} | {_cell(ci.message(result, d))} |")
    if len(result.diagnostics) > SUMMARY_ROWS:
        out.append(f"\n… and {len(result.diagnostics) - SUMMARY_ROWS} more (see the job log).")
    return "\n".join(out) + "\n"
