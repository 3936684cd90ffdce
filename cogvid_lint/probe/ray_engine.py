"""`--engine ray`: the probe and content stages as Ray tasks (runner.py's seam).

Imported only when that engine is chosen: nothing else in the package imports Ray.

The driver (this process) keeps discovery, the store, the rules and the report; it sends
chunks of jobs out as Ray tasks and takes their answers back in whatever order they finish.
Each task runs the project's own crash-isolated pool (ProbePool, one worker) over its chunk,
so a clip that segfaults or hangs the decoder is that clip's finding, with the very words it
has locally ("decoder crashed (SIGSEGV)", "probe timed out after 30 s"). Ray's own retries
are therefore not needed for bad clips (Ray Data's default would retry such a task forever);
they are set explicitly, `retries`, for what they are for: a Ray worker or node lost while
it held a task. A task lost after those is reported, not fatal: its clips' answers say so
and are not stored (the next run probes them again); every other answer stands.

A task answers with the version of the code it ran (runner.py's `version`). A worker whose
cogvid-lint or PyAV differs from this process's is said once, its answers reported and not
stored: the store must only hold what this version would have answered.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from typing import Any, Sequence

from cogvid_lint import defaults
from cogvid_lint.errors import UsageError
from cogvid_lint.probe.pool import CHUNK
from cogvid_lint.probe.worker import resolve_failure, resolve_probe_fn

# Tasks in flight per CPU of the cluster: enough that none idles while the driver takes answers
IN_FLIGHT_PER_CPU = 2
# A task's chunk of jobs: a share of the work small enough to spread over every CPU (four
# tasks each), at most this many pool chunks (a probe's 16 clips → 256; a decode's 1 → 16).
MAX_POOL_CHUNKS_PER_TASK = 16
# The lost-task failures that are the cluster's (a worker or node gone), not the clips'.
LOST = ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OutOfMemoryError", "LocalRayletDiedError",
        "TaskUnschedulableError", "ObjectStoreFullError", "OutOfDiskError")
# Seconds to wait for the cluster's address to accept a connection before Ray is asked
# (Ray itself retries an unreachable address for minutes).
CONNECT_TIMEOUT_S = 5.0

INSTALL_HINT = "pip install 'cogvid-lint[ray]'"


def run_chunk(jobs: Sequence[Any], spec: str, timeout: float | None, chunk: int,
              version: str | None) -> tuple[str | None, str, list[Any]]:
    """A Ray task: `jobs` through a one-worker ProbePool on the Ray worker's machine; the
    version of the code that answered, the node's name, the answers in the jobs' order."""
    from cogvid_lint.probe.pool import ProbePool

    fn = resolve_probe_fn(spec)
    warm_up = getattr(__import__(fn.__module__, fromlist=["_"]), "warm_up", None)
    if warm_up is not None:  # the decoder library imported here once, then forked with the pool's worker
        warm_up()
    answers: list[Any] = [None] * len(jobs)
    with ProbePool(1, timeout, spec, chunk=chunk) as pool:
        pool.submit(list(jobs))
        while not pool.finished:
            for index, answer in pool.take():
                answers[index] = answer
    found = resolve_probe_fn(version)(spec) if version else None
    return found, socket.gethostname(), answers


def check_reachable(address: str) -> None:
    """UsageError unless `address` (host:port, ray://host:port) accepts a TCP connection."""
    where = address.split("://", 1)[-1].rstrip("/")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--engine ray: ray-address {address!r} is not HOST:PORT (or ray://HOST:PORT, auto)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise UsageError(f"--engine ray: cannot reach the Ray cluster at {address}: "
                         f"{exc.strerror or exc.__class__.__name__}") from None


class RayRunner:
    """Connects on the first pool it makes (a run whose answers are all stored never
    starts Ray): to `address` (host:port, ray://..., `auto`), else to RAY_ADDRESS when set
    (as in a `ray job submit` entry point), else a local Ray instance of `cpus` CPUs (0: all).
    An already connected process (a test's, a notebook's) is used as it is. `close()` shuts
    down only what it started."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus: int = 0, retries: int = defaults.RAY_RETRIES):
        self.address = address
        self.cpus = cpus
        self.retries = retries
        self.warnings: list[str] = []
        self.ray: Any = None
        self.remote: Any = None
        self.started = False
        self.said: set[str] = set()

    def connect(self) -> Any:
        if self.ray is not None:
            return self.ray
        try:
            import ray
        except ImportError:
            raise UsageError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
        if not ray.is_initialized():
            import logging

            address = self.address or os.environ.get("RAY_ADDRESS") or None
            if address is not None and address != "auto":
                check_reachable(address)
            kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            if address is None:  # a local instance of our own: no dashboard, the CPUs asked for
                kwargs.update(include_dashboard=False, num_cpus=self.cpus or None)
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UsageError(f"--engine ray: cannot connect to the Ray cluster at {address or 'a new local instance'}: "
                                 f"{_first_line(exc)}") from None
            self.started = True
        self.ray = ray
        # the task, with its retries said here (Ray's defaults differ by API): for a lost worker
        # or node, never for the task's exceptions (a bad clip is the pool's answer inside it)
        self.remote = ray.remote(num_cpus=1, max_retries=self.retries, retry_exceptions=False)(run_chunk)
        return ray

    def cpus_in_cluster(self) -> int:
        try:
            return max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        except Exception:  # noqa: BLE001 - a guess is enough for the size of a chunk
            return 1

    def pool(self, jobs: int, timeout: float | None, spec: str, *, chunk: int = CHUNK,
             version: str | None = None) -> RayPool:
        self.connect()
        return RayPool(self, timeout, spec, chunk, version)

    def say_once(self, message: str, key: str) -> None:
        if key not in self.said:
            self.said.add(key)
            self.warnings.append(message)

    def close(self) -> None:
        if self.started and self.ray is not None:
            self.ray.shutdown()
        self.started = False
        self.ray = None


class RayPool:
    """ProbePool's interface over Ray tasks: chunks of jobs sent as tasks (a bounded number
    in flight), answers taken as tasks finish, in any order."""

    def __init__(self, runner: RayRunner, timeout: float | None, spec: str, chunk: int, version: str | None):
        self.runner = runner
        self.ray = runner.ray
        self.timeout = timeout
        self.spec = spec
        self.chunk = chunk
        self.version = version
        self.expected = resolve_probe_fn(version)(spec) if version else None
        self.failed = resolve_failure(spec)
        self.cpus = runner.cpus_in_cluster()
        self.queue: deque[list[tuple[int, Any]]] = deque()
        self.running: dict[Any, list[tuple[int, Any]]] = {}  # task's ObjectRef -> its chunk
        self.unstored: set[int] = set()
        self.pending = 0

    def submit(self, jobs: Sequence[Any]) -> None:
        if not jobs:
            return
        items = [(i, job if isinstance(job, tuple) else os.fspath(job)) for i, job in enumerate(jobs)]
        size = max(1, min(self.chunk * MAX_POOL_CHUNKS_PER_TASK, -(-len(items) // (4 * self.cpus))))
        self.queue.extend(items[i:i + size] for i in range(0, len(items), size))
        self.pending += len(items)
        self._top_up()

    @property
    def finished(self) -> bool:
        return self.pending == 0

    def take(self, wait: bool = True) -> list[tuple[int, Any]]:
        """The answers of the tasks that have finished; with `wait`, at least one task's
        unless every job is answered."""
        if not self.running:
            return []
        ray = self.ray
        refs = list(self.running)
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        if not done and wait:
            done, _ = ray.wait(refs, num_returns=1)
        answers: list[tuple[int, Any]] = []
        for ref in done:
            chunk = self.running.pop(ref)
            answers += self._answers(ref, chunk)
        self.pending -= len(answers)
        self._top_up()
        return answers

    def close(self) -> None:
        if self.running and self.ray is not None:
            for ref in self.running:
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - already finished or gone: nothing to stop
                    pass
        self.running.clear()
        self.queue.clear()

    def _top_up(self) -> None:
        limit = IN_FLIGHT_PER_CPU * self.cpus
        while self.queue and len(self.running) < limit:
            chunk = self.queue.popleft()
            ref = self.runner.remote.remote([job for _, job in chunk], self.spec, self.timeout, self.chunk,
                                            self.version)
            self.running[ref] = chunk

    def _answers(self, ref: Any, chunk: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        try:
            found, node, answers = self.ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - Ray's errors, sorted below
            kind = type(exc).__name__
            if not {c.__name__ for c in type(exc).__mro__} & set(LOST):
                # the task itself failed: cogvid-lint missing or broken on the workers, not a clip
                raise UsageError(f"--engine ray: the Ray workers cannot run cogvid-lint's {self._stage()}: "
                                 f"{_first_line(exc)} (pin cogvid-lint in the job's runtime_env: "
                                 f"{INSTALL_HINT})") from None
            reason = f"lost on the Ray cluster ({kind}, after {self.runner.retries} retries)"
            self.runner.say_once(f"Ray tasks were lost ({kind}) after {self.runner.retries} retries: their clips "
                                 f"are reported as such and not stored; a re-run takes them again", "lost")
            self.unstored.update(index for index, _ in chunk)
            return [(index, self.failed(job, reason)) for index, job in chunk]
        if found != self.expected:
            self.runner.say_once(
                f"the Ray worker on {node} runs other {self._stage()} code than this process (version {found}, "
                f"here {self.expected}): its answers are reported, not stored; run the same cogvid-lint and PyAV "
                f"on the cluster (runtime_env pip: cogvid-lint[ray]==<this version>)", f"version:{self.version}")
            self.unstored.update(index for index, _ in chunk)
        return [(index, answer) for (index, _), answer in zip(chunk, answers)]

    def _stage(self) -> str:
        return "content stage" if self.version and "content" in self.version else "probe"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    # a RayTaskError's text starts with its own header; the cause's last line says what happened
    lines = [line.strip() for line in text if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[-1][:300] if len(lines) > 1 else lines[0][:300]
