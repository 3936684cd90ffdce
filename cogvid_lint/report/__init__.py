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
}


def get_reporter(name: str) -> Callable[[RunResult], str]:
    module, _, function = FORMATS[name].partition(":")
    return getattr(importlib.import_module(module), function)


__all__ = ["FORMATS", "RunResult", "get_reporter"]
