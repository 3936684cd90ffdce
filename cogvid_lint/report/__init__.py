"""Reporters: each turns a `RunResult` into text and does nothing else."""

from __future__ import annotations

import importlib
from typing import Callable

from cogvid_lint.report.result import RunResult

# format name -> "module:function"; imported only when chosen (rich costs start-up time).
FORMATS: dict[str, str] = {
    "full": "cogvid_lint.report.full:render",
    "concise": "cogvid_lint.report.concise:render",
    "json": "cogvid_lint.report.json_format:render",
    "json-lines": "cogvid_lint.report.json_lines:render",
    "sarif": "cogvid_lint.report.sarif:render",
    "github": "cogvid_lint.report.github:render",
    "gitlab": "cogvid_lint.report.gitlab:render",
    "junit": "cogvid_lint.report.junit:render",
    "html": "cogvid_lint.report.html:render",
}
# Formats whose ids come from content fingerprints (the check command computes them first).
NEEDS_FINGERPRINTS = frozenset({"sarif", "gitlab"})


def get_reporter(name: str) -> Callable[[RunResult], str]:
    module, _, function = FORMATS[name].partition(":")
    return getattr(importlib.import_module(module), function)


__all__ = ["FORMATS", "NEEDS_FINGERPRINTS", "RunResult", "get_reporter"]
