"""Parse a Python source without ever crashing, and map parser positions to text offsets.

`parse_source(data)` returns a `Module` (tree plus text and line table) or a
`SyntaxProblem` (line, column, message). Non-UTF-8 sources, NUL bytes, nesting too deep
for the parser (RecursionError / MemoryError) all become a `SyntaxProblem`.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from functools import cached_property

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SyntaxProblem:
    line: int
    column: int
    message: str


@dataclass
class Module:
    """A parsed module. `text` is None when the source is not UTF-8 (coding cookie)."""

    tree: ast.Module
    text: str | None
    data: bytes

    @cached_property
    def line_starts(self) -> list[int]:
        """Character offset of the start of each line (index 0 = line 1), parser line breaks."""
        text = self.text or ""
        starts = [1 if text.startswith("\ufeff") else 0]  # the parser does not count a BOM
        starts.extend(m.end() for m in _LINE_BREAK.finditer(text))
        return starts

    @cached_property
    def lines(self) -> list[str]:
        """Each line's text with its line break (as in the file)."""
        text = self.text or ""
        starts = self.line_starts
        return [text[starts[i] : (starts[i + 1] if i + 1 < len(starts) else len(text))] for i in range(len(starts))]

    def line_text(self, lineno: int) -> str:
        """Line `lineno` (1-based) without its line break."""
        if not 1 <= lineno <= len(self.lines):
            return ""
        return self.lines[lineno - 1].rstrip("\r\n")

    def line_break(self, lineno: int) -> str:
        line = self.lines[lineno - 1] if 1 <= lineno <= len(self.lines) else ""
        stripped = line.rstrip("\r\n")
        return line[len(stripped) :]

    @cached_property
    def newline(self) -> str:
        """The file's first line break, "\\n" when it has none."""
        m = _LINE_BREAK.search(self.text or "")
        return m.group(0) if m else "\n"

    def offset(self, lineno: int, col_byte: int) -> int:
        """Text offset of a parser position (1-based line, UTF-8 byte column)."""
        starts = self.line_starts
        if lineno > len(starts):
            return len(self.text or "")
        start = starts[lineno - 1]
        line = self.lines[lineno - 1]
        if line.isascii():
            return start + col_byte
        return start + len(line.encode("utf-8")[:col_byte].decode("utf-8", "replace"))

    def char_column(self, lineno: int, col_byte: int) -> int:
        """0-based character column of a parser position."""
        return self.offset(lineno, col_byte) - self.line_starts[min(lineno, len(self.line_starts)) - 1]

    def segment(self, node: ast.AST) -> str:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return (self.text or "")[start:end]


def parse_source(data: bytes, filename: str = "<unknown>") -> Module | SyntaxProblem:
    """Parse `data` as the interpreter would; never raises for a bad source."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escapes etc.
            tree = ast.parse(data, filename=filename)
    except SyntaxError as exc:
        msg = exc.msg or "invalid syntax"
        if "null bytes" in msg:
            return SyntaxProblem(_nul_line(data), 1, msg)
        return SyntaxProblem(exc.lineno or 1, max(exc.offset or 1, 1), msg)
    except ValueError as exc:  # "source code string cannot contain null bytes" (older Pythons)
        return SyntaxProblem(_nul_line(data), 1, str(exc))
    except (RecursionError, MemoryError):
        return SyntaxProblem(1, 1, "too deeply nested for the parser")
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None  # a coding cookie made it valid; we can read it but not edit it
    return Module(tree=tree, text=text, data=data)


def _nul_line(data: bytes) -> int:
    idx = data.find(b"\0")
    return 1 if idx < 0 else data.count(b"\n", 0, idx) + 1

