"""What the code rules need to know about one file, as plain data that a cache can keep.

The checks never look at a file's bytes directly: they read its `FileFacts`, so a warm
run can answer from the cache without opening the file. Facts depend on the file's
content alone (never on rule parameters, selections or other files), which is what
makes them safe to key by the file's stat key:

- `decord` / `main`: does the text contain `decord` / `__main__` (the cheap prefilters);
- `groups`: the names its import statements spell (`import_groups`), for CVL403's text
  closure; computed only when some file of the run mentions decord (it is the costly
  part on a big tree), None until then;
- `parse`: the parse result (`ModuleFacts` or `SyntaxProblem`), computed eagerly for
  files that mention decord and lazily for the files CVL403's walk enters.

Fix text edits need the real text and tree: the checks re-read a file for those, and
only when it has a finding. `to_json` / `from_json` are the cache's row format.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from typing import Any

from cogvid_lint.python.guards import Comments, scan_comments
from cogvid_lint.python.model import build_model
from cogvid_lint.python.source import Module, SyntaxProblem, parse_source


class ImportFact:
    """One module an `import` statement loads, at its place in execution order
    (see `model.ImportEvent`, whose `order` it shares). `body` numbers the statement
    list holding the statement and `index` is its place there: (body, index) names the
    statement, and consecutive indexes of one body form an import block (every import
    statement of a walked body is an event). Compared by identity, like ImportEvent.

    (The classes here are plain classes with slots, not dataclasses: building a dataclass
    costs about a millisecond at import, and the code hook's start-up is counted.)"""

    __slots__ = ("module", "level", "names", "is_from", "scope", "order", "line", "column", "statement",
                 "body", "index")

    def __init__(self, module: str, level: int, names: tuple[str, ...], is_from: bool, scope: int, order: int,
                 line: int, column: int, statement: str, body: int, index: int):
        self.module = module
        self.level = level
        self.names = names
        self.is_from = is_from
        self.scope = scope
        self.order = order
        self.line = line
        self.column = column  # 1-based character column of the statement
        self.statement = statement  # the statement as `ast.unparse` writes it
        self.body = body
        self.index = index

    @property
    def stmt(self) -> tuple[int, int]:
        return (self.body, self.index)

    def __repr__(self) -> str:
        return f"ImportFact({self.statement!r}, line={self.line}, scope={self.scope}, order={self.order})"


class ModuleFacts:
    """The import model of a module that parses (see model.py), as facts."""

    __slots__ = ("events", "has_main_guard", "utf8", "comments", "_stmts")

    def __init__(self, events: tuple[ImportFact, ...], has_main_guard: bool, utf8: bool,
                 comments: Comments | None):
        self.events = events
        self.has_main_guard = has_main_guard
        self.utf8 = utf8  # False: a coding cookie made it parse; the fixes cannot edit it
        self.comments = comments  # the sorter directives (files that mention decord only)
        self._stmts: dict[int, dict[int, int]] | None = None

    def import_block(self, body: int, index: int) -> tuple[int, int]:
        """The contiguous run of import statements around body[index] (the unit an import
        sorter reorders: any other statement ends it), as (first, last) indexes."""
        taken = self._statements().get(body, {})
        first = last = index
        while first - 1 in taken:
            first -= 1
        while last + 1 in taken:
            last += 1
        return first, last

    def line_of(self, body: int, index: int) -> int:
        return self._statements()[body][index]

    def _statements(self) -> dict[int, dict[int, int]]:
        if self._stmts is None:
            self._stmts = {}
            for e in self.events:
                self._stmts.setdefault(e.body, {})[e.index] = e.line
        return self._stmts


Parse = ModuleFacts | SyntaxProblem


class FileFacts:
    __slots__ = ("decord", "main", "groups", "parse")

    def __init__(self, decord: bool, main: bool, groups: str | None = None, parse: Parse | None = None):
        self.decord = decord
        self.main = main
        self.groups = groups
        self.parse = parse


def file_facts(data: bytes) -> FileFacts:
    """The facts every run needs (and the parse of a file that mentions decord)."""
    facts = FileFacts(decord=b"decord" in data, main=b"__main__" in data)
    if facts.decord:
        facts.parse = parse_facts(data)
    return facts


def parse_facts(data: bytes, filename: str = "<unknown>") -> Parse:
    result = parse_source(data, filename)
    if isinstance(result, SyntaxProblem):
        return result
    try:
        model = build_model(result.tree)
    except RecursionError:
        return SyntaxProblem(1, 1, "too deeply nested to analyse")
    bodies: dict[int, int] = {}
    texts: dict[int, str] = {}
    events = []
    for e in model.events:
        node = e.node
        body = bodies.setdefault(id(e.body), len(bodies))
        text = texts.get(id(node))
        if text is None:
            text = texts[id(node)] = _unparse(result, node)
        events.append(ImportFact(e.module, e.level, e.names, e.is_from, e.scope, e.order, node.lineno,
                                 _column(result, node), text, body, e.index))
    comments = scan_comments(result.text) if result.text is not None and b"decord" in data else None
    return ModuleFacts(tuple(events), model.has_main_guard, result.text is not None, comments)


def _unparse(module: Module, node: ast.stmt) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a parsed node does not fail
        return module.line_text(node.lineno).strip()


def _column(module: Module, node: ast.stmt) -> int:
    if module.text is None:
        return node.col_offset + 1
    return module.char_column(node.lineno, node.col_offset) + 1


# ------------------------------------------------------------------ import names (CVL403)

@cache
def _patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Compiled on first use: only runs where some file mentions decord need them."""
    statement = re.compile(
        rb"(?:^|[;:])[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*(\([^)]*\)|(?:[^\n;#\\]|\\\r?\n)*)"
        rb"|import[ \t]+((?:[^\n;#\\]|\\\r?\n)*))",
        re.M,
    )
    return statement, re.compile(rb"[A-Za-z_]\w*")


def import_groups(data: bytes) -> str:
    """The names each import statement spells, one line per module imported: its top name
    ("." for a relative import) then every name. A superset: text that only looks like an
    import (in a string) adds names, never removes them. `import_words` filters them."""
    if b"import" not in data:
        return ""
    if b"\r" in data and b"\n" not in data:
        data = data.replace(b"\r", b"\n")
    statement, word = _patterns()
    groups: dict[str, None] = {}
    for m in statement.finditer(data):
        module, names, plain = m.group(1), m.group(2), m.group(3)
        if plain is not None:
            for part in plain.split(b","):
                dotted = word.findall(part.split(b" as ")[0])
                if dotted:
                    groups[b" ".join([dotted[0], *dotted]).decode("ascii")] = None
        elif module is not None:
            dotted = word.findall(module)
            top = b"." if module.startswith(b".") else (dotted[0] if dotted else b"")
            if top:
                groups[b" ".join([top, *dotted, *word.findall(names or b"")]).decode("ascii")] = None
    return "\n".join(groups)


def import_words(groups: str, tops: frozenset[str]) -> frozenset[str]:
    """The names of the imports that may be first-party: relative, or whose top name is a
    folder or module somewhere in the run."""
    words: set[str] = set()
    for group in groups.split("\n") if groups else ():
        parts = group.split(" ")
        if parts[0] == "." or parts[0] in tops:
            words.update(parts[1:])
    return frozenset(words)


# ------------------------------------------------------------------ cache rows

def to_json(facts: FileFacts) -> list:
    return [int(facts.decord), int(facts.main), facts.groups, _parse_json(facts.parse)]


def from_json(row: list) -> FileFacts:
    decord, main, groups, parse = row
    return FileFacts(bool(decord), bool(main), groups, None if parse is None else _parse_from(parse))


def _parse_json(parse: Parse | None) -> Any:
    if parse is None:
        return None
    if isinstance(parse, SyntaxProblem):
        return ["E", parse.line, parse.column, parse.message]
    events = [[e.module, e.level, list(e.names), int(e.is_from), e.scope, e.line, e.column, e.statement, e.body,
               e.index] for e in parse.events]
    c = parse.comments
    comments = None if c is None else [int(c.ok), sorted(c.by_line.items()), sorted(c.own_line),
                                       sorted(c.no_append)]
    return ["M", int(parse.has_main_guard), int(parse.utf8), events, comments]


def _parse_from(value: list) -> Parse:
    if value[0] == "E":
        return SyntaxProblem(value[1], value[2], value[3])
    _, main_guard, utf8, rows, c = value
    events = tuple(ImportFact(m, lv, tuple(names), bool(f), scope, order, line, col, stmt, body, index)
                   for order, (m, lv, names, f, scope, line, col, stmt, body, index) in enumerate(rows))
    comments = None if c is None else Comments(by_line=dict((int(k), v) for k, v in c[1]), own_line=set(c[2]),
                                               no_append=set(c[3]), ok=bool(c[0]))
    return ModuleFacts(events, bool(main_guard), bool(utf8), comments)
