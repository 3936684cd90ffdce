"""The first-party import graph, followed from entry scripts in execution order (CVL403).

Modules are resolved among the Python files of the run (the project's `python_files`):
absolute imports against the entry script's folder, the project root and `src/`;
relative imports against the importing file's package. Importing `a.b.c` runs
`a/__init__.py`, `a/b/__init__.py`, then `a/b/c.py`; `from a import x` also runs the
submodule `a/x.py` when there is one. Each module runs once per entry script, depth
first, module-level imports only (a function's imports run when it is called); the
entry script's own function-level imports run after all of that, in text order.

To stay fast on big trees nothing is parsed unless some file mentions `decord`: the
files that may reach decord are found with a cheap text closure (a file can only import
a module whose last name it spells out), and only entry scripts in that set are walked.
Everything here reads the files' facts (fact_cache.py), never their bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from cogvid_lint.python.classify import (
    absolute_module,
    is_decord_import,
    is_torch_import,
    matches_entry_point,
    module_package,
)
from cogvid_lint.python.fact_cache import facts_of
from cogvid_lint.python.facts import ImportFact, ModuleFacts, import_words

if TYPE_CHECKING:
    from cogvid_lint.discover.project import Project, PythonFile

_MAX_DEPTH = 400


def _last_name(path: Path) -> str:
    return path.parent.name if path.name == "__init__.py" else path.stem


def may_reach_decord(project: "Project") -> frozenset[Path]:
    """Files that mention decord, or whose imports may reach (directly or through other
    first-party modules) one that does. A file can only import a module whose last name
    its import statements spell out, so this needs no parsing. Derived once per run."""
    return project.derive(_may_reach_decord)


def _may_reach_decord(project: "Project") -> frozenset[Path]:
    store = facts_of(project)
    files = list(project.python_files)
    reach = {f.path for f in files if (store.facts.get(f.path) or _NONE).decord}
    if not reach:
        return frozenset()
    tops: set[str] = set()
    for f in files:
        tops.update(Path(os.path.abspath(f.path)).parts[:-1])
        tops.add(_last_name(f.path))
    top_set = frozenset(tops)
    words = {f.path: import_words(store.groups(f), top_set) for f in files if f.path not in reach}
    store.flush()
    names = {_last_name(p) for p in reach}
    seen = set(names)
    while names and words:
        new = [path for path, w in words.items() if not w.isdisjoint(names)]
        if not new:
            break
        reach.update(new)
        for path in new:
            del words[path]
        names = {_last_name(p) for p in new} - seen
        seen |= names
    return frozenset(reach)


class _NoFacts:
    decord = main = False


_NONE = _NoFacts()


@dataclass(frozen=True)
class Chain:
    """An entry script's import that leads to decord before torch."""

    entry: "PythonFile"
    event: ImportFact  # the entry script's import statement at the head of the chain
    steps: tuple[tuple[Path, int], ...]  # (file, line) from the entry down to decord's module
    decord: str  # the decord import statement

    def render(self, root: Path) -> str:
        parts = [f"{_rel(p, _norm(root))}:{line}" for p, line in self.steps]
        return " → ".join(parts + [self.decord])


def _norm(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass
class _Index:
    root: Path
    files: dict[Path, "PythonFile"]
    dirs: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        for path in self.files:
            parent = path.parent
            while parent not in self.dirs and parent != parent.parent:
                self.dirs.add(parent)
                if parent == self.root:
                    break
                parent = parent.parent

    def resolve(self, name: str, roots: Sequence[Path]) -> list[Path]:
        """The files `import name` runs, in order (packages first); [] if not first-party."""
        parts = [p for p in name.split(".") if p]
        if not parts:
            return []
        for base in roots:
            if not (base / parts[0]) in self.dirs and (base / f"{parts[0]}.py") not in self.files:
                continue
            out: list[Path] = []
            here = base
            for i, part in enumerate(parts):
                here = here / part
                init = here / "__init__.py"
                if init in self.files:
                    out.append(init)
                elif i == len(parts) - 1 and here.with_suffix(".py") in self.files:
                    out.append(here.with_suffix(".py"))
                elif here not in self.dirs:
                    return out  # past what the repo holds (an attribute, or a missing file)
            return out
        return []


class ImportGraph:
    def __init__(self, project: "Project", torch_modules: Sequence[str] = (), entry_points: Sequence[str] = ()):
        self.project = project
        self.root = _norm(project.root)
        self.torch_modules = tuple(torch_modules)
        self.entry_points = tuple(entry_points)
        self.read: set[Path] = set()  # files this walk parsed (CVL400 reports their syntax errors)
        self.store = facts_of(project)

    @cached_property
    def index(self) -> _Index:  # built only when some file may reach decord
        return _Index(self.root, {_norm(f.path): f for f in self.project.python_files})

    def _model(self, path: Path) -> ModuleFacts | None:
        file = self.index.files[path]
        self.read.add(file.path)
        parse = self.store.parse(file)
        return parse if isinstance(parse, ModuleFacts) else None

    def chains(self) -> list[Chain]:
        reach = may_reach_decord(self.project)
        if not reach:
            return []
        out = []
        for path in sorted(_norm(p) for p in reach):
            file = self.index.files.get(path)
            if file is None:
                continue
            configured = bool(self.entry_points) and matches_entry_point(path, self.root, self.entry_points)
            if not configured and not (self.store.facts.get(file.path) or _NONE).main:
                continue
            model = self._model(path)
            if model is None or not (configured or model.has_main_guard):
                continue
            chain = self._walk_entry(file, model)
            if chain is not None:
                out.append(chain)
        return out

    def _package(self, path: Path) -> str:
        return module_package(path, self.root)

    def _targets(self, event: ImportFact, path: Path, roots: Sequence[Path]) -> list[Path]:
        if event.level:
            name = absolute_module(event, self._package(path))
            roots = [self.root, self.root / "src"]
        else:
            name = event.module
        files = self.index.resolve(name, roots)
        if event.is_from and files:
            for alias in event.names:
                if alias != "*":
                    sub = self.index.resolve(f"{name}.{alias}", roots)
                    if sub and sub[-1] not in files:
                        files.append(sub[-1])
        return files

    def _walk_entry(self, entry: "PythonFile", model: ModuleFacts) -> Chain | None:
        here = _norm(entry.path)
        roots = list(dict.fromkeys([here.parent, self.root, self.root / "src"]))
        executed = {here}
        package = self._package(here)
        ordered = [e for e in model.events if e.scope == 0] + [e for e in model.events if e.scope > 0]
        for event in ordered:
            if is_torch_import(event, self.torch_modules, package):
                return None
            if is_decord_import(event):
                return None  # decord imported by the entry script itself: CVL401's finding
            for target in self._targets(event, here, roots):
                if target in executed:
                    continue
                outcome = self._run(target, roots, executed, 1)
                if outcome == "torch":
                    return None
                if outcome is not None:
                    steps, stmt = outcome
                    return Chain(entry, event, ((here, event.line),) + steps, stmt)
        return None

    def _run(self, path: Path, roots: Sequence[Path], executed: set[Path], depth: int):
        """Run one module's import-time imports: "torch", (steps, decord stmt) or None."""
        executed.add(path)
        if depth > _MAX_DEPTH:
            return None
        model = self._model(path)
        if model is None:
            return None
        package = self._package(path)
        for event in model.events:
            if event.scope:
                break  # function bodies do not run on import
            if is_torch_import(event, self.torch_modules, package):
                return "torch"
            if is_decord_import(event):
                return ((path, event.line),), event.statement
            for target in self._targets(event, path, roots):
                if target in executed:
                    continue
                outcome = self._run(target, roots, executed, depth + 1)
                if outcome == "torch":
                    return outcome
                if outcome is not None:
                    steps, stmt = outcome
                    return ((path, event.line),) + steps, stmt
        return None


@dataclass(frozen=True)
class Walk:
    chains: tuple[Chain, ...]
    read: frozenset[Path]


def walk_entries(project: "Project", torch_modules: Iterable[str] = (), entry_points: Iterable[str] = ()) -> Walk:
    """Follow every entry script (memoised per run and parameters)."""
    return project.derive(_walk, tuple(torch_modules), tuple(entry_points))


def _walk(project: "Project", tm: tuple[str, ...], ep: tuple[str, ...]) -> Walk:
    graph = ImportGraph(project, tm, ep)
    chains = tuple(graph.chains())
    graph.store.flush()  # the parses this walk needed, for the next run
    return Walk(chains, frozenset(graph.read))


def import_graph(project: "Project", torch_modules: Iterable[str] = (), entry_points: Iterable[str] = ()) -> list[Chain]:
    return list(walk_entries(project, torch_modules, entry_points).chains)
