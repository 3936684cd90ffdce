"""Ask decord 0.6.0 (the trainer's reader) about clips, each in a process of its own.

decord aborts on some damaged clips (`std::bad_alloc` -> SIGABRT) and would take the
asking process with it, so every question runs in a child: its death is an answer
("crashed"), not the test's end. One child answers a whole list of clips, one after the
other, writing each answer as it goes; when it dies, the clip it was on is "crashed" and
a fresh child takes the rest.

What a clip's answer holds:
  * kind "read": decord opened it; `frames` is `len(VideoReader(path))` and `read_all`
    says whether every frame decoded (in order, as a trainer's `get_batch` over all of
    them would), `message` why not;
  * kind "raised": decord raised while opening it (`message` is its first line);
  * kind "crashed": the process died (`message` names the signal or exit code);
  * kind "timeout": it took longer than the timeout.

Importable as `decord_oracle` (tests/ is on sys.path under pytest) and run as a script:
`python tests/decord_oracle.py clip.mp4 ...` prints one JSON answer per line.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from dataclasses import dataclass

# The child: one JSON line per clip, flushed before the next clip is touched, so the line
# missing after a death names the clip that killed it.
_CHILD = r"""
import json, re, sys
import decord

def first_line(exc):
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    # "[12:00:00] /github/workspace/src/video/video_reader.cc:151: message": the message
    return re.sub(r"\[[\d:]+\] \S+:\d+: ", "", lines[0])[:300]

for path in sys.argv[1:]:
    print(json.dumps({"path": path, "kind": "start"}), flush=True)
    try:
        vr = decord.VideoReader(path, num_threads=1)
        n = len(vr)
    except Exception as exc:
        print(json.dumps({"path": path, "kind": "raised", "message": first_line(exc)}), flush=True)
        continue
    read_all, message = True, None
    try:
        for i in range(n):
            vr[i].asnumpy()
    except Exception as exc:
        read_all = False
        message = first_line(exc)
    print(json.dumps({"path": path, "kind": "read", "frames": n, "read_all": read_all,
                      "message": message}), flush=True)
"""


@dataclass(frozen=True)
class Outcome:
    kind: str  # read | raised | crashed | timeout
    frames: int = 0
    read_all: bool = False
    message: str | None = None

    @property
    def reads_completely(self) -> bool:
        return self.kind == "read" and self.read_all

    def __str__(self) -> str:
        if self.kind == "read":
            return f"read {self.frames} frames" + ("" if self.read_all else f", then failed: {self.message}")
        return f"{self.kind}: {self.message}"


def _describe(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


def ask(paths: list[str | os.PathLike], timeout: float = 30.0,
        python: str = sys.executable) -> dict[str, Outcome]:
    """decord's Outcome for every path (keys: the paths as str). `timeout` is per clip."""
    todo = [os.fspath(p) for p in paths]
    answers: dict[str, Outcome] = {}
    while todo:
        proc = subprocess.Popen([python, "-c", _CHILD, *todo], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        current, timed_out = None, False
        with proc, selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                if not sel.select(timeout):  # no line for `timeout` s: stuck on `current`
                    proc.kill()
                    timed_out = True
                    break
                line = proc.stdout.readline()
                if not line:
                    break
                record = json.loads(line)
                if record["kind"] == "start":
                    current = record["path"]
                    continue
                path = record.pop("path")
                answers[path] = Outcome(**record)
                current = None
            rc = proc.wait()
        if current is not None:
            answers[current] = (Outcome("timeout", message=f"over {timeout:g} s") if timed_out
                                else Outcome("crashed", message=_describe(rc)))
        elif rc != 0 and not timed_out:
            raise RuntimeError(f"decord oracle failed outside any clip ({_describe(rc)})")
        todo = [p for p in todo if p not in answers]
    return answers


def ask_one(path: str | os.PathLike, timeout: float = 30.0) -> Outcome:
    return ask([path], timeout)[os.fspath(path)]


if __name__ == "__main__":
    for p, outcome in ask(sys.argv[1:]).items():
        print(json.dumps({"path": p, "outcome": str(outcome)}))
