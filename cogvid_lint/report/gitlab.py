"""`--output-format gitlab`: GitLab Code Quality JSON (a list of issues).

GitLab needs a unique `fingerprint` per issue to diff a merge request against its target
branch; ours is line-independent (see cogvid_lint.baseline).
"""

from __future__ import annotations

import json

from cogvid_lint.report import ci
from cogvid_lint.report.result import RunResult

SEVERITY = {"error": "critical", "warning": "major", "info": "info"}


def render(result: RunResult) -> str:
    issues = []
    for d, finding_id in zip(result.diagnostics, ci.finding_ids(result)):
        where = ci.primary(d)
        issues.append({
            "type": "issue",
            "check_name": d.code,
            "description": f"{d.code} [{d.name}] {ci.message(result, d)}",
            "categories": ["Bug Risk"],
            "fingerprint": finding_id,
            "severity": SEVERITY[d.severity.value],
            "location": {"path": ci.project_path(result, where.path), "lines": {"begin": where.line or 1}},
        })
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
