"""Reading documents that may be hostile, and echoing values that may be huge.

Config files, rule files, a foreign pyproject.toml or .pre-commit-config.yaml and cache
headers are input like any other: a file too large, nested too deep (the parsers recurse),
with an integer past Python's int-string limit, or with YAML aliases that expand to
billions of nodes must end in one line naming the file, not a traceback or a hang. And a
value echoed in a message (a parameter, a list of tensors) is shortened first.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_DOCUMENT_BYTES = 1 << 20  # a config or rule file; real ones are a few KB
MAX_DEPTH = 64  # collections inside collections; real configs nest < 10 deep
MAX_NODES = 200_000  # scalars and collections once aliases are expanded
MAX_ECHO = 200  # characters of one value shown in a message


class BadDocument(ValueError):
    """The document cannot be used; the message says why, without the file's name."""


@dataclass(frozen=True)
class Unreadable:
    """Stands for a document that could not be used (remembered like a value would be)."""

    reason: str


def read_text(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """The file as UTF-8 text, refused past `limit` bytes (BadDocument)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise BadDocument(f"cannot read it: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise BadDocument(f"larger than {limit // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}") from None


def load_yaml(text: str) -> Any:
    """yaml.safe_load, after a look at the event stream (a loop, unlike the composer, which
    recurses) refuses documents nested past MAX_DEPTH or expanding past MAX_NODES."""
    import yaml

    if len(text) > MAX_DOCUMENT_BYTES:
        raise BadDocument(f"larger than {MAX_DOCUMENT_BYTES // 1024} KiB")
    # libyaml's loader when PyYAML was built with it: the same documents, 12x faster
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_events(yaml.parse(text, Loader=loader))
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise BadDocument(_yaml_problem(exc)) from None
    except (ValueError, RecursionError, OverflowError) as exc:  # int(...) past the digit limit, ...
        raise BadDocument(_one_line(exc)) from None


def _check_events(events) -> None:
    import yaml

    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    expanded = 0  # nodes a full walk of the constructed value would visit
    anchored: dict[str, int] = {}  # anchor -> its node's expanded size
    open_at: list[tuple[str | None, int]] = []  # (anchor, `expanded` at its start) per open collection
    for event in events:
        if isinstance(event, starts):
            if len(open_at) >= MAX_DEPTH:
                raise BadDocument(f"nested deeper than {MAX_DEPTH} levels")
            open_at.append((event.anchor, expanded))
            expanded += 1
        elif isinstance(event, ends):
            anchor, start = open_at.pop()
            if anchor is not None:
                anchored[anchor] = expanded - start
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            expanded += anchored.get(event.anchor, 1)
        if expanded > MAX_NODES:
            raise BadDocument(f"more than {MAX_NODES:,} values once its aliases are expanded")


def load_toml(text: str) -> dict[str, Any]:
    """tomllib.loads, with every way it fails (not only TOMLDecodeError) as BadDocument."""
    import tomllib

    if len(text) > MAX_DOCUMENT_BYTES:
        raise BadDocument(f"larger than {MAX_DOCUMENT_BYTES // 1024} KiB")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadDocument(str(exc)) from None
    except RecursionError:  # the parser recurses into nested arrays and inline tables
        raise BadDocument("nested too deeply") from None
    except ValueError as exc:  # int(...) past the digit limit
        raise BadDocument(_one_line(exc)) from None
    check_depth(data)
    return data


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """BadDocument when lists and dicts nest past `limit` (dotted TOML keys nest without
    recursion; whoever walks or pickles the value later would recurse)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            raise BadDocument(f"nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def load_json(raw: bytes | str) -> Any:
    """json.loads, with a recursion or an integer past the digit limit as BadDocument."""
    import json

    try:
        return json.loads(raw)
    except RecursionError:
        raise BadDocument("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BadDocument(f"not JSON: {exc.msg} at offset {exc.pos}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadDocument(f"not JSON: {_one_line(exc)}") from None


def short(value: Any, limit: int = MAX_ECHO) -> str:
    """repr(value) for a message, at most about `limit` characters whatever the value (a
    billion-leaf list is not walked, a 4,000-digit integer not converted)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<an integer of {value.bit_length()} bits>"
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother = 3, limit, limit
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = 10
    text = r.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


_CONTAINERS = (list, tuple, dict, set, frozenset)


def echo(value: Any, limit: int = 4 * MAX_ECHO) -> Any:
    """`value` as a message template may show it: a long string cut, a huge integer or a
    collection too large to print shortened to a string (never walked whole), anything
    else as it is (so `{a[0]}`, `{a!r}` and format specs keep their meaning)."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= limit else value[:limit - 3] + "..."
    if kind is int:
        return value if value.bit_length() <= 256 else short(value, limit)
    if isinstance(value, _CONTAINERS) and not _printable_size(value, limit):
        return short(value, limit)
    return value


def _printable_size(value: Any, limit: int) -> bool:
    """Whether `value` prints in about `limit` characters; gives up as soon as it does not
    (a shared-list bomb of 10^9 leaves is looked at for `limit` steps)."""
    room, stack = limit, [value]
    while stack:
        item = stack.pop()
        room -= 2
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            stack.extend(item)
        elif isinstance(item, str):
            room -= len(item)
        elif isinstance(item, int) and item.bit_length() > 256:
            return False
        if room < 0:
            return False
    return True


def few(names: list[str], shown: int = 10) -> str:
    """The first `shown` names, comma-separated, and how many there are in all."""
    text = ", ".join(short(name, 80) if len(name) > 80 else name for name in names[:shown])
    return text + (f", ... ({len(names)} in all)" if len(names) > shown else "")


def warn(message: str) -> None:
    """One warning line on stderr (a foreign file that cannot be read, and is ignored)."""
    print(f"cogvid-lint: warning: {message}", file=sys.stderr)


def _yaml_problem(exc) -> str:
    """`line L, column C: problem (context at line L', column C')`: PyYAML's own text names
    the stream it parsed, `"<unicode string>"`; the caller names the file."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return _one_line(exc).replace(' in "<unicode string>"', "")
    text = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    context, at = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        text += f" ({context}" + (f" at line {at.line + 1}, column {at.column + 1}" if at is not None else "") + ")"
    return short_text(" ".join(text.split()))


def _one_line(exc: BaseException) -> str:
    return short_text(" ".join(str(exc).split()))


def short_text(text: str, limit: int = 4 * MAX_ECHO) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
