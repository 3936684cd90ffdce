"""Errors that end a run with exit code 2 and one line per problem."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # imported by whoever validates: pydantic is kept off the fast path
    from pydantic import TypeAdapter, ValidationError

# `__pydantic_config__` of the dataclasses pydantic validates (rules, configs, the cache
# stamp): a key the schema does not know is an error, not silently dropped.
STRICT = {"extra": "forbid"}


class ConfigError(Exception):
    """Invalid configuration or rules. `lines` are complete, user-facing, one problem each."""

    def __init__(self, lines: Iterable[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


class UsageError(Exception):
    """A bad command line; the message is one line."""


def missing_path(path: str) -> str:
    """`PATH: no such file or directory`, with the closest name in its folder when one is near."""
    import difflib
    import os

    folder, name = os.path.split(os.path.normpath(path))
    try:
        names = os.listdir(folder or ".")
    except OSError:
        names = []
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {os.path.join(folder, close[0])}?)" if close else ""
    return f"{path}: no such file or directory{hint}"


@functools.cache
def type_adapter(cls: type) -> TypeAdapter:
    """pydantic's validator for the dataclass `cls`, built (and pydantic imported) on first
    use: a run whose inputs are remembered (cogvid_lint.remembered) never builds one."""
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def format_validation_error(exc: ValidationError, *, prefix: str, known: Iterable[str] = ()) -> list[str]:
    """One line per pydantic error: `<prefix>: key 'a.b': <message>`, with a did-you-mean."""
    import difflib

    known = list(known)
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"])
        msg = err["msg"]
        if err["type"] == "value_error":  # raised by a __post_init__: "key 'name': problem"
            msg = msg.removeprefix("Value error, ")
            inner = _INNER_KEY.match(msg)
            if inner:
                loc, msg = ".".join(filter(None, (loc, inner[1]))), inner[2]
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            msg = "unknown key"
            last = str(err["loc"][-1]) if err["loc"] else ""
            close = difflib.get_close_matches(last, known, n=1) if known else []
            if close:
                msg += f" (did you mean {close[0]!r}?)"
        elif err["type"] in ("missing", "missing_argument", "missing_keyword_only_argument"):
            msg = "required key is missing"
        where = f": key {loc!r}" if loc else ""
        lines.append(f"{prefix}{where}: {msg}")
    return lines


_INNER_KEY = re.compile(r"key '([^']*)': (.*)", re.S)
