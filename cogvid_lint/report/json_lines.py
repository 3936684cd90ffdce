"""`--output-format json-lines`: one JSON object per diagnostic (the `json` format's shape), for
streaming into `jq`, log collectors or a line-based diff."""

from __future__ import annotations

import json

from cogvid_lint.report.json_format import diagnostic_dict
from cogvid_lint.report.result import RunResult


def render(result: RunResult) -> str:
    return "".join(json.dumps(diagnostic_dict(d, result), ensure_ascii=False) + "\n" for d in result.diagnostics)
