"""The worker side of the probe pool (pool.py): which function a worker runs, the worker
process and what it shares with the parent, and how a worker's death is described.

A job is a path (the probe: `fn(path)`) or a tuple of picklable arguments (`fn(*job)`, e.g.
the content stage's (path, indices, rotation)). What a job answers when it raises, or when
its worker crashes or hangs, is the function module's `failed(job, reason)` if it has one,
else a VideoInfo of the path with that error."""

from __future__ import annotations

import faulthandler
import importlib
import os
import signal
import sys
import time
from collections import deque
from typing import Any, Callable, NamedTuple

from cogvid_lint.probe.info import VideoInfo

ProbeFn = Callable[..., Any]
FailFn = Callable[[Any, str], Any]

DEFAULT_PROBE = "cogvid_lint.probe.pyav:probe"
# Tests swap the probe for a stand-in that hangs or aborts on a marked file; the only way
# to reach the workers of an installed `cogvid-lint` run in a subprocess.
PROBE_FN_ENV = "COGVID_LINT_PROBE_FN"


def probe_fn_spec() -> str:
    return os.environ.get(PROBE_FN_ENV) or DEFAULT_PROBE


def resolve_probe_fn(spec: str) -> ProbeFn:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


class RemoteJob(NamedTuple):
    """The probe of a clip in an object store (remote.urls path): its listed size and how to
    reach the store (a remote.access.RemoteSpec). probe.remote reads it and hands the bytes
    to the pool's probe function."""

    path: str
    size: int
    spec: Any


def probe_failed(job: Any, reason: str) -> VideoInfo:
    # a remote clip's job is (path, size, spec): see probe.pyav.probe
    return VideoInfo(path=job[0] if isinstance(job, tuple) else job, error=reason)


def resolve_failure(spec: str) -> FailFn:
    """What a job of `spec`'s function answers when it fails (see the module's docstring)."""
    module, _, _ = spec.partition(":")
    return getattr(importlib.import_module(module), "failed", probe_failed)


def call_probe(fn: ProbeFn, job: Any, failure: FailFn = probe_failed) -> Any:
    try:
        if isinstance(job, RemoteJob):
            from cogvid_lint.probe.remote import probe_remote

            return probe_remote(job.path, job.size, job.spec, fn)
        return fn(*job) if isinstance(job, tuple) else fn(job)
    except Exception as exc:
        return failure(job, f"probe failed: {type(exc).__name__}: {exc}"[:300])


def mp_context():
    import multiprocessing  # here, not at the top: a warm run never starts a pool (10 ms)

    # fork: workers start in milliseconds with this process's imports (spawn re-imports:
    # measured 1.75x on 2 cores against fork's 1.97x). Not on macOS, where system
    # frameworks are not fork-safe.
    if sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _die_with(parent: int) -> None:
    """Linux: be killed when the parent dies, however it dies (SIGKILL included): a worker
    must never outlive the run that started it. Elsewhere the pipe's EOF ends it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def serve(conn, spec: str, state, parent_end, parent: int) -> None:
    """A worker's life: probe each chunk it is sent, answer a chunk at a time."""
    _die_with(parent)
    # The fork copied the parent's end of this worker's pipe: while it stays open here, the
    # parent's death would never read as EOF (the other workers' ends too, in any order).
    parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    faulthandler.disable()  # a crash is reported as a finding; a dump on stderr would be noise
    fn = resolve_probe_fn(spec)
    failure = resolve_failure(spec)
    warm_up = getattr(sys.modules.get(fn.__module__), "warm_up", None)
    if warm_up is not None:  # e.g. import the decoder library before the first clip arrives
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - then each probe fails and says why, as it always did
            pass
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        results = []
        for index, job in chunk:
            state[SINCE] = time.monotonic()  # before the index: a torn read never blames a fresh clip
            state[CLIP] = index
            results.append(call_probe(fn, job, failure))
        conn.send(results)


# The worker's progress in shared memory, so answers can travel a chunk at a time (one
# wake-up of the parent per 16 clips) while the parent still knows which clip a dead or
# hung worker was on: its index, and since when (time.monotonic is system-wide).
CLIP, SINCE = 0, 1


class Worker:
    """One worker process, its pipe, its progress, and the chunks it holds."""

    def __init__(self, ctx, spec: str):
        self.spec = spec
        self.conn, child = ctx.Pipe(duplex=True)
        self.state = ctx.RawArray("d", 2)
        self.proc = ctx.Process(target=serve, args=(child, spec, self.state, self.conn, os.getpid()), daemon=True)
        self.proc.start()
        child.close()  # so a dead worker reads as EOF here
        # Chunks sent and not yet answered, oldest first. Two at a time: the next one waits
        # in the pipe, so a worker never idles while the parent wakes up, reads its answers
        # and sends more (measured: the 2-job run's wall time, 5% of it at 16 clips a chunk).
        self.chunks: deque[list[tuple[int, Any]]] = deque()

    def give(self, chunk: list[tuple[int, Any]]) -> None:
        if not self.chunks:  # idle: its clock starts now (a busy worker keeps its own)
            self.state[SINCE], self.state[CLIP] = time.monotonic(), chunk[0][0]
        self.conn.send(chunk)
        self.chunks.append(chunk)  # only once sent: a dead worker's chunks are the ones it had

    def unanswered(self) -> tuple[tuple[int, Any] | None, list[tuple[int, Any]]]:
        """The clip being probed (None if unknown) and every other clip sent but not answered."""
        index = int(self.state[CLIP])
        sent = [item for chunk in self.chunks for item in chunk]
        at = next((i for i, (n, _) in enumerate(sent) if n == index), None)
        if at is None:
            return None, sent
        return sent[at], sent[:at] + sent[at + 1:]

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
