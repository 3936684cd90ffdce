"""Probe many clips in worker processes, each clip isolated from the others' failures.

Why not multiprocessing.Pool / ProcessPoolExecutor: when a worker dies (a decoder
segfault) the former loses the task and waits forever, the latter fails every pending
future; neither can abandon one clip that hangs. Here each worker has its own pipe, takes
a chunk of ~16 clips (fewer round trips, measured 1.97x on 2 cores against 1.5x with
chunks of 1) and answers clip by clip, so the parent always knows which clip a worker is
on: if the worker dies that clip is "decoder crashed", if it goes quiet for longer than
the timeout it is killed and that clip "timed out"; the rest of its chunk goes back in
the queue for a fresh worker. Results land by index, so the order is the input order and
identical to a serial run.
"""

from __future__ import annotations

import faulthandler
import importlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Callable, Sequence

from cogvid_lint.probe.info import VideoInfo

ProbeFn = Callable[[str], VideoInfo]

DEFAULT_PROBE = "cogvid_lint.probe.pyav:probe"
# Tests swap the probe for a stand-in that hangs or aborts on a marked file; the only way
# to reach the workers of an installed `cogvid-lint` run in a subprocess.
PROBE_FN_ENV = "COGVID_LINT_PROBE_FN"
DEFAULT_TIMEOUT = 30.0
CHUNK = 16
# Below this many clips a pool costs more (fork, pipes, av imported per worker) than it saves.
SERIAL_BELOW = 8


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this process may use (taskset, containers)
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def probe_fn_spec() -> str:
    return os.environ.get(PROBE_FN_ENV) or DEFAULT_PROBE


def resolve_probe_fn(spec: str) -> ProbeFn:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def call_probe(fn: ProbeFn, path: str) -> VideoInfo:
    try:
        return fn(path)
    except Exception as exc:
        return VideoInfo(path=path, error=f"probe failed: {type(exc).__name__}: {exc}"[:300])


def probe_many(paths: Sequence[str], jobs: int = 0, timeout: float | None = DEFAULT_TIMEOUT,
               spec: str | None = None, on_result: Callable[[], None] | None = None) -> list[VideoInfo]:
    """`probe(path)` for every path, in order; `jobs` workers (0: every available CPU).

    A clip that crashes its worker gets `error="decoder crashed (...)"`, one that takes
    longer than `timeout` seconds gets `error="probe timed out ..."`; the others are
    unaffected. Fewer than SERIAL_BELOW clips are probed in this process.
    """
    spec = spec or probe_fn_spec()
    jobs = jobs or available_cpus()
    if len(paths) < SERIAL_BELOW:
        fn = resolve_probe_fn(spec)
        results = []
        for path in paths:
            results.append(call_probe(fn, os.fspath(path)))
            if on_result:
                on_result()
        return results
    workers = min(jobs, -(-len(paths) // CHUNK))
    # Small batches still spread over every worker: chunks shrink to keep 4 per worker.
    size = max(1, min(CHUNK, len(paths) // (workers * 4)))
    return _Pool(spec, workers, timeout, on_result).run(paths, size)


def _context():
    # fork: workers start in milliseconds with this process's imports (spawn re-imports:
    # measured 1.75x on 2 cores against fork's 1.97x). Not on macOS, where system
    # frameworks are not fork-safe.
    if sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _worker(conn, spec: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    faulthandler.disable()  # a crash is reported as a finding; a dump on stderr would be noise
    fn = resolve_probe_fn(spec)
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for index, path in chunk:
            conn.send((index, call_probe(fn, path)))


class _Worker:
    def __init__(self, ctx, spec: str):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker, args=(child, spec), daemon=True)
        self.proc.start()
        child.close()  # so a dead worker reads as EOF here
        self.chunk: deque[tuple[int, str]] = deque()
        self.deadline = float("inf")

    def give(self, chunk: list[tuple[int, str]], timeout: float | None) -> None:
        self.chunk.extend(chunk)
        self.deadline = time.monotonic() + timeout if timeout else float("inf")
        self.conn.send(chunk)

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


class _Pool:
    def __init__(self, spec: str, size: int, timeout: float | None, on_result):
        self.ctx = _context()
        self.spec, self.size, self.timeout, self.on_result = spec, size, timeout, on_result
        self.results: list[VideoInfo | None] = []
        self.queue: deque[list[tuple[int, str]]] = deque()

    def run(self, paths: Sequence[str], chunk_size: int) -> list[VideoInfo]:
        items = [(i, os.fspath(p)) for i, p in enumerate(paths)]
        self.results = [None] * len(items)
        self.queue.extend(items[i:i + chunk_size] for i in range(0, len(items), chunk_size))
        # A slot is None until it has work: a worker lost near the end is not replaced
        # unless the queue still (or again, after another loss) holds chunks.
        slots: list[_Worker | None] = [None] * self.size
        try:
            while True:
                for i, w in enumerate(slots):
                    if (w is None or not w.chunk) and self.queue:
                        slots[i] = self._feed(w)
                busy = [w for w in slots if w is not None and w.chunk]
                if not busy:
                    break
                soonest = min(w.deadline for w in busy) - time.monotonic()
                wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                     timeout=None if soonest == float("inf") else max(soonest, 0))
                for i, w in enumerate(slots):
                    if w is not None and w.chunk and not self._collect(w):
                        slots[i] = None
        finally:  # workers hold no state worth a graceful goodbye
            for w in slots:
                if w is not None:
                    w.stop()
        return self.results  # type: ignore[return-value]  # every slot is filled

    def _feed(self, w: _Worker | None) -> _Worker:
        chunk = self.queue.popleft()
        for _ in range(2):
            w = w or _Worker(self.ctx, self.spec)
            try:
                w.give(chunk, self.timeout)
                return w
            except OSError:  # died while idle (OOM killer, ...): a fresh one takes it
                w.chunk.clear()
                w.stop()
                w = None
        raise RuntimeError("probe workers die as soon as they start")

    def _collect(self, w: _Worker) -> bool:
        """Take w's answers so far; False when w is gone (crashed, or killed for hanging)."""
        dead = False
        try:
            while w.chunk and w.conn.poll():
                index, info = w.conn.recv()
                self._done(index, info)
                w.chunk.popleft()
                if self.timeout:
                    w.deadline = time.monotonic() + self.timeout
        except (EOFError, OSError):
            dead = True  # what it sent before is in; the clip it was on is not
        if dead or not w.proc.is_alive():
            w.proc.join(timeout=5)
            if w.chunk:
                self._lose(w, f"decoder crashed ({_describe_exit(w.proc.exitcode)})")
            w.stop()
            return False
        if w.chunk and time.monotonic() >= w.deadline:
            self._lose(w, f"probe timed out after {self.timeout:g} s")
            w.stop()
            return False
        return True

    def _lose(self, w: _Worker, reason: str) -> None:
        index, path = w.chunk.popleft()
        self._done(index, VideoInfo(path=path, error=reason))
        if w.chunk:
            self.queue.appendleft(list(w.chunk))
            w.chunk.clear()

    def _done(self, index: int, info: VideoInfo) -> None:
        self.results[index] = info
        if self.on_result:
            self.on_result()


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
