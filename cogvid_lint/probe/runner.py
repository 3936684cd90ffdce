"""Where the probe and content stages run: the seam between the streams (stream.py) and the
machines that do the work.

A runner makes pools: `runner.pool(jobs, timeout, spec, chunk=, version=)` returns an object
with ProbePool's pulled interface — `submit(jobs)` once, `take(wait)` → (index, answer) in
any order until `finished`, `close()` — plus `unstored`, the indices whose answers are to be
reported but not stored (a Ray worker running another version of the code, a task lost on
the cluster). `version` names the function (`module:name`, called with `spec`) that says
which code answered; a remote runner compares what its workers return with this process's.

The local runner is today's pool on this machine. The Ray runner (ray_engine.py, imported
only when `--engine ray` is chosen) runs a ProbePool inside each Ray task, so a segfault or
a hang stays that clip's finding there too. Whatever runs them, the answers are the same.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from cogvid_lint.probe.pool import CHUNK, ProbePool


class Pool(Protocol):
    unstored: Any  # a container of indices

    def submit(self, jobs: Sequence[Any]) -> None: ...

    def take(self, wait: bool = True) -> list[tuple[int, Any]]: ...

    @property
    def finished(self) -> bool: ...

    def close(self) -> None: ...


class Runner(Protocol):
    name: str
    warnings: list[str]

    def pool(self, jobs: int, timeout: float | None, spec: str, *, chunk: int = CHUNK,
             version: str | None = None) -> Pool: ...

    def close(self) -> None: ...


class LocalRunner:
    """This machine's crash-isolated worker processes (ProbePool)."""

    name = "local"

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def pool(self, jobs: int, timeout: float | None, spec: str, *, chunk: int = CHUNK,
             version: str | None = None) -> ProbePool:
        # `version` is not needed here: the workers are forks of this process, its own code
        return ProbePool(jobs, timeout, spec, chunk=chunk)

    def close(self) -> None:
        pass
