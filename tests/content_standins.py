"""Content-stage stand-ins, selected with COGVID_LINT_CONTENT_FN=content_standins:<name>
(PYTHONPATH=tests for an installed `cogvid-lint` in a subprocess).

`logged_misbehaving` is the real content stage, except that it appends each clip it decodes
to the file $CONTENT_LOG (to count decodes across runs) and misbehaves on files whose name
marks them: SEGV dereferences NULL (a real segmentation fault), HANG sleeps for an hour.
"""

from __future__ import annotations

import ctypes
import os
import time

from cogvid_lint.probe.content import content, failed  # noqa: F401 (failed: the pool's answer on a crash)


def _log(variable: str, path: str) -> None:
    """The clip's name appended to the file $`variable` names (decodes counted across runs)."""
    log = os.environ.get(variable)
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(os.path.basename(path) + "\n")


def _misbehave(path: str, crash: str, hang: str = "") -> None:
    """A real segmentation fault when the file's name holds `crash`, an hour's sleep when it
    holds `hang`."""
    name = os.path.basename(path)
    if crash in name:
        ctypes.string_at(0)
    if hang and hang in name:
        time.sleep(3600)


def logged_misbehaving(path: str, indices, rotation: int = 0, mode=None, strip=None, tier: str = "full"):
    _log("CONTENT_LOG", path)
    _misbehave(path, "SEGV", "HANG")
    return content(path, indices, rotation, mode, strip, tier)


def logged_strip(path: str, chosen, rotation: int, tile_w: int, tile_h: int):
    """The report's thumbnail decode (probe/thumbs.py strip), each clip it decodes appended
    to $THUMBS_LOG (COGVID_LINT_THUMBS_FN=content_standins:logged_strip); a SEGV file
    crashes it as above."""
    from cogvid_lint.probe import thumbs

    _log("THUMBS_LOG", path)
    _misbehave(path, "SEGV")
    return thumbs.strip(path, chosen, rotation, tile_w, tile_h)


def decode_misbehaving(path: str, indices, rotation: int = 0, mode=None, strip=None, tier: str = "full"):
    """The real content stage, except on DECODE_CRASH (a segmentation fault) and DECODE_STUCK
    (an hour's sleep): markers the probe stand-in (probe_standins.misbehaving) lets through."""
    _misbehave(path, "DECODE_CRASH", "DECODE_STUCK")
    return content(path, indices, rotation, mode, strip, tier)
