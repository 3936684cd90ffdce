"""Remembered runs: a `cogvid-lint check` whose inputs are all unchanged prints what the
last such run printed, without discovering, probing or checking anything again.

A run's inputs are its command line, environment, working folder, terminal, user and
Python, plus every look it took at the file system (observe.py records them as they
happen, whoever takes them: discovery, settings, the caches, the rules, imports). The
record keeps the paths looked at and a digest of the answers; a replay asks again — one
stat per clip, one listing per folder that was listed — and on any difference the run is
done afresh and recorded anew. So a warm re-lint of 10,000 clips costs about 10,000
lstat calls, not the discovery, cache reads and 100,000 rule calls behind the report.

Not remembered: runs that change or may change files (--fix, --diff, --write-baseline),
--no-cache, runs that warned (a cache that could not be used), timed out a probe (that
says as much about the machine's load as about the clip), drew a progress bar or wrote a
GitHub step summary. Records are JSON (never pickle: nothing in them is code), one file
per command line in the user's cache folder, the RECORDS_KEPT last used kept.

COGVID_LINT_RUN_MEMO_CHECK=1 (the test suite sets it) runs afresh even when a record
matches and fails the run (exit 2) if the fresh output differs: every CLI test is also a
test that no input was missed.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from cogvid_lint import __version__
from cogvid_lint.run_memo.observe import (Observations, active, answer, listing, observing, unobserved,
                                          _lstat, _readlink, _stat)

__all__ = ["CHECK_ENV", "Lookup", "checking", "find", "record", "replay", "spoil", "unobserved", "wrote_output"]

FORMAT = 1  # bump when a record's layout or meaning changes
RECORDS_KEPT = 64
CHECK_ENV = "COGVID_LINT_RUN_MEMO_CHECK"
# Variables a shell changes between two identical commands (nothing reads them), and the
# check switch, so that a checked run finds the records unchecked runs made.
_IGNORED_ENV = frozenset({"_", "OLDPWD", "PWD", "SHLVL", CHECK_ENV})


def spoil(reason: str) -> None:
    """This run must not be remembered (see the module docstring for why some are not)."""
    obs = active()
    if obs is not None:
        obs.spoil(reason)


def wrote_output(path: str, text: str) -> None:
    """The report also went to `path` (-o): a replay writes it again."""
    obs = active()
    if obs is not None:
        obs.outputs.append((path, text))


class Lookup:
    """A command line's record file, and the record when every answer still matches."""

    __slots__ = ("path", "memo")

    def __init__(self, path: str, memo: dict[str, Any] | None):
        self.path, self.memo = path, memo


def find(argv: Sequence[str]) -> Lookup:
    """The record of this command line (its key taken once, now: what a run records is
    filed under the key it started with), with `memo` None when there is none or anything
    it looked at has changed."""
    path = _record_file(run_key(argv))
    try:
        with open(path, encoding="utf-8") as handle:
            memo = json.load(handle)
    except (OSError, ValueError):
        return Lookup(path, None)
    if not isinstance(memo, dict) or memo.get("key") != os.path.basename(path) or not _unchanged(memo):
        return Lookup(path, None)
    return Lookup(path, memo)


def checking() -> bool:
    """Whether a matching record is to be checked against a fresh run (CHECK_ENV)."""
    return bool(os.environ.get(CHECK_ENV))


def replay(found: Lookup) -> int:
    """Print the remembered run's output again (and write its -o file); its exit code."""
    memo = found.memo
    assert memo is not None
    if memo["outputs"]:
        from cogvid_lint.fsutil import atomic_write_text

        for path, text in memo["outputs"]:
            atomic_write_text(path, text)
    _write(sys.stdout, memo["stdout"])
    _write(sys.stderr, memo["stderr"])
    try:
        os.utime(found.path)  # used: the newest records are kept, by last use
    except OSError:
        pass
    return memo["exit"]


def record(found: Lookup, run: Callable[[], int]) -> int:
    """run(), recording what it looks at and prints, filed under `found.path` when it exits 0
    or 1. When `found` holds a record (check mode), the fresh output must equal it."""
    from cogvid_lint.remembered import user_cache_dir

    obs = Observations(ignored=(os.path.join(os.path.abspath(user_cache_dir()), ""),))
    with observing(obs), _captured() as printed:
        code = run()
    stdout, stderr = ("".join(parts) for parts in printed)
    fresh = {"stdout": stdout, "stderr": stderr, "outputs": [list(o) for o in obs.outputs], "exit": code}
    expected = found.memo
    if expected is not None and any(expected[k] != v for k, v in fresh.items()):
        differs = ", ".join(k for k, v in fresh.items() if expected[k] != v)
        _unlink(found.path)  # disproved: no later run may replay it
        print(f"cogvid-lint: internal error: a remembered run is stale ({differs} differ): an input was not "
              "recorded", file=sys.stderr)
        return 2
    if code in (0, 1) and obs.spoiled is None:
        try:
            _store(found.path, obs, fresh)
        except Exception:  # noqa: BLE001 - remembering is an optimisation: it never fails a run
            _unlink(found.path)
    return code


def run_key(argv: Sequence[str]) -> dict[str, Any]:
    """Everything besides the file system that a run's output may depend on."""
    ttys = [os.isatty(fd) for fd in (0, 1, 2)]
    size = None
    for fd in (1, 2, 0):  # rich's width: the terminal's, where there is one
        if ttys[fd]:
            try:
                size = list(os.get_terminal_size(fd))
                break
            except OSError:
                pass
    return {"format": FORMAT, "version": __version__, "python": sys.version, "executable": sys.executable,
            "sys_path": list(sys.path), "argv": list(argv), "cwd": os.getcwd(), "tty": ttys, "size": size,
            "ids": [os.getuid(), os.getgid(), sorted(os.getgroups())] if hasattr(os, "getuid") else None,
            "env": {k: v for k, v in sorted(os.environ.items()) if k not in _IGNORED_ENV}}


def _record_file(key: dict[str, Any]) -> str:
    """The record's path, named by a hash of its key; the key itself is not kept (the
    environment may hold secrets), the record holds the name it was filed under."""
    from cogvid_lint.remembered import user_cache_dir

    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8", "surrogateescape")).hexdigest()
    return os.path.join(user_cache_dir(), "runs", name + ".json")


def _digest(answers: list, encode) -> str:
    return hashlib.blake2b(encode(answers), digest_size=16).hexdigest()


def _numbers(answers: list) -> bytes:
    # marshal's version 2 writes ints and tuples the same whatever their history (later
    # versions share repeated objects by refcount, and any version marks interned strings);
    # 6x faster than JSON for a stat per clip
    return marshal.dumps(answers, 2)


def _texts(answers: list) -> bytes:
    return json.dumps(answers).encode("utf-8", "surrogateescape")


def _readlink_answer(path: str) -> str | int:
    try:
        return os.fsdecode(_readlink(path))
    except OSError as exc:
        return exc.errno or 0


# (record field, how to ask again, how to encode the answers for their one digest)
_LOOKS = (("lstat", lambda p: answer(_lstat, p), _numbers), ("stat", lambda p: answer(_stat, p), _numbers),
          ("listing", listing, _texts), ("readlink", _readlink_answer, _texts))


def _unchanged(memo: dict[str, Any]) -> bool:
    try:
        for field, ask, encode in _LOOKS:
            paths, digest = memo[field]
            if _digest([ask(p) for p in paths], encode) != digest:
                return False
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _store(path: str, obs: Observations, fresh: dict[str, Any]) -> None:
    # What the run imported is an input too: a changed module (cogvid-lint's own, rich's
    # renderer, PyAV's version file) must not replay an old report; and so are the folders
    # imports search, which importlib lists without our os functions: a package installed
    # since (torch, for the legacy-cache rule) changes what a run can import.
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            obs.note(obs.stat, file, answer(_stat, file))
    for folder in sys.path:
        if os.path.isdir(folder or "."):
            obs.note(obs.listing, folder or ".", listing(folder or "."))
    memo: dict[str, Any] = {"key": os.path.basename(path), **fresh}
    for field, _, encode in _LOOKS:
        table = getattr(obs, field)
        memo[field] = [list(table), _digest(list(table.values()), encode)]
    from cogvid_lint.fsutil import atomic_write_text

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_text(path, json.dumps(memo, separators=(",", ":")))
    except OSError:
        return  # a read-only cache folder: just not remembered
    _prune(os.path.dirname(path))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _prune(folder: str) -> None:
    try:
        records = sorted((e.stat().st_mtime_ns, e.path) for e in os.scandir(folder) if e.name.endswith(".json"))
    except OSError:
        return
    for _, path in records[:-RECORDS_KEPT]:
        _unlink(path)


class _Tee:
    """A text stream that keeps a copy of what is written to it."""

    def __init__(self, stream, parts: list[str]):
        self._stream, self._parts = stream, parts

    def write(self, text: str) -> int:
        self._parts.append(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _captured() -> Iterator[tuple[list[str], list[str]]]:
    out: list[str] = []
    err: list[str] = []
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(sys.stdout, out), _Tee(sys.stderr, err)
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved


def _write(stream, text: str) -> None:
    if text:
        stream.write(text)
        stream.flush()
