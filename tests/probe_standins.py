"""Probe stand-ins for pool tests, selected with COGVID_LINT_PROBE_FN=probe_standins:<name>.

`misbehaving` is the real probe except on files whose name marks them: HANG sleeps for an
hour, ABORT calls os.abort() (SIGABRT, as a failed assertion in a decoder would), SEGV
dereferences NULL (a real segmentation fault). Importable as `probe_standins` (tests/ on
sys.path, or PYTHONPATH for an installed `cogvid-lint` in a subprocess).
"""

from __future__ import annotations

import ctypes
import os
import time

from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.pyav import probe


def misbehaving(path: str) -> VideoInfo:
    name = os.path.basename(path)
    if "HANG" in name:
        time.sleep(3600)
    if "ABORT" in name:
        os.abort()
    if "SEGV" in name:
        ctypes.string_at(0)
    return probe(path)


def whoami(path: str) -> VideoInfo:
    """No decoding at all: records which process answered (in `codec`)."""
    return VideoInfo(path=path, codec=str(os.getpid()), frames=1)


def raising(path: str) -> VideoInfo:
    raise RuntimeError("stand-in bug")


def pid_version(spec: str) -> str:
    """A code version that differs in every process: a Ray worker running other code than
    the driver (tests/test_ray_engine.py)."""
    return f"pid-{os.getpid()}"


def kills_its_host(path: str) -> VideoInfo:
    """The real probe, except that on a file named KILLHOST it kills the process that runs
    the pool (in a Ray task: the Ray worker, as a lost node would be lost)."""
    if "KILLHOST" in os.path.basename(path):
        os.kill(os.getppid(), 9)
        time.sleep(3600)
    return probe(path)
