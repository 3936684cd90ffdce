"""`--output-format json`: exactly one JSON object (the shape is a contract)."""

from __future__ import annotations

import json
from typing import Any

from cogvid_lint.findings import Diagnostic
from cogvid_lint.report.result import RunResult


def diagnostic_dict(diagnostic: Diagnostic, result: RunResult) -> dict[str, Any]:
    loc = diagnostic.location
    fix = diagnostic.fix
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "severity": diagnostic.severity.value,
        "path": result.relpath(loc.path),
        "line": loc.line,
        "column": loc.column,
        "message": diagnostic.message,
        "fix": None if fix is None else {"applicability": fix.applicability.value, "title": fix.title},
    }


def render(result: RunResult) -> str:
    payload = {
        "version": 1,
        "diagnostics": [diagnostic_dict(d, result) for d in result.diagnostics],
        "summary": result.counts(),
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
