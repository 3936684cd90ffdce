"""Comments that keep an import sorter away from an import, and where a comment can go.

Measured against isort 9 and ruff 0.17 (`ruff check --select I --fix`):
- `# isort: skip` / `# isort:skip` counts on the FIRST line of a statement (anywhere in
  that line's comment, e.g. `# reader  # isort: skip`); on a later line of a multi-line
  statement isort rewrites the statement anyway. The skipped statement stays put and the
  imports above and below it are sorted separately, so a torch import above stays above.
- `# isort: off` ... `# isort: on` leaves the region alone (both tools).
- `# isort: split` ends one sorted run and starts another (both tools).
- `# noqa: I001` (or a bare `# noqa`) only stops ruff, and only on the first line of the
  import block ruff reports; isort ignores it. `# ruff: noqa[: I001]` stops ruff for the file.
- `# isort: skip_file` stops both for the whole file.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from functools import cached_property

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_,\s]+))?", re.IGNORECASE)
_RUFF_NOQA = re.compile(r"#\s*ruff\s*:\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_,\s]+))?", re.IGNORECASE)


def _directive(comment: str) -> str:
    """`# isort: off` -> "isort:off" (lower case, no spaces)."""
    return re.sub(r"\s+", "", comment.lstrip("#")).lower()


def has_skip(comment: str) -> bool:
    c = re.sub(r"\s+", "", comment).lower()
    return bool(re.search(r"isort:skip(?![_-]file)", c))


def _noqa_codes_cover_i001(codes: str | None) -> bool:
    if codes is None:
        return True
    return any(c == "I001" or c in ("I", "I0", "I00") for c in re.split(r"[,\s]+", codes.strip().upper()) if c)


@dataclass
class Comments:
    """Comments per line, and the lines whose end may take an appended comment."""

    by_line: dict[int, str] = field(default_factory=dict)
    own_line: set[int] = field(default_factory=set)  # lines holding only a comment
    no_append: set[int] = field(default_factory=set)  # line ends inside a string or after a `\`
    ok: bool = True

    @cached_property
    def off_ranges(self) -> list[tuple[int, int]]:
        """Line ranges [off, on] switched off for the sorters (on = a huge number if never)."""
        ranges: list[tuple[int, int]] = []
        start: int | None = None
        for line in sorted(self.by_line):
            d = _directive(self.by_line[line])
            if d.startswith("isort:off") and start is None:
                start = line
            elif d.startswith("isort:on") and start is not None:
                ranges.append((start, line))
                start = None
        if start is not None:
            ranges.append((start, 10**9))
        return ranges

    @cached_property
    def split_lines(self) -> list[int]:
        return sorted(line for line, c in self.by_line.items() if "isort:split" in _directive(c))

    @cached_property
    def skip_file(self) -> bool:
        return any(re.search(r"isort:skip[_-]file", _directive(c)) for c in self.by_line.values())

    @cached_property
    def ruff_noqa_file(self) -> bool:
        for line in self.own_line:
            m = _RUFF_NOQA.match(self.by_line[line].strip())
            if m and _noqa_codes_cover_i001(m.group("codes")):
                return True
        return False

    def skipped(self, line: int) -> bool:
        return has_skip(self.by_line.get(line, ""))

    def switched_off(self, line: int) -> bool:
        return any(a < line < b for a, b in self.off_ranges)

    def noqa_i001(self, line: int) -> bool:
        comment = self.by_line.get(line, "")
        for m in _NOQA.finditer(comment):
            if _noqa_codes_cover_i001(m.group("codes")):
                return True
        return False


def scan_comments(text: str) -> Comments:
    import tokenize  # only files that mention decord get here

    out = Comments()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text, newline=None).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        out.ok = False
        return out
    code_lines: set[int] = set()
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            out.by_line[tok.start[0]] = tok.string
        elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            for line in range(tok.start[0], tok.end[0]):
                out.no_append.add(line)
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
            for line in range(tok.start[0], tok.end[0] + 1):
                code_lines.add(line)
    out.own_line = {line for line in out.by_line if line not in code_lines}
    lines = re.split(r"\r\n|\r|\n", text)  # the parser's line breaks
    for number, line in enumerate(lines, 1):
        if line.rstrip().endswith("\\") and number not in out.by_line:
            out.no_append.add(number)
    return out
