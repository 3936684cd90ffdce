"""CVL400-CVL403 over fixture files with inline expectations, fix snapshots, and a
property test of the execution-order model against an independent reference.

Fixtures: every `tests/fixtures/python/cases/*.py` is linted alone in an empty folder;
every `tests/fixtures/python/repos/*/` is linted as a project. A line ending in
`# CVL401` (any CVL4xx code right after a `#`) must be reported with that code; every
other line must not (`# OK` marks lines that matter). Fixed text is compared with
`tests/snapshots/python/`; regenerate with `UPDATE_SNAPSHOTS=1 pytest tests/test_python_rules.py`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cogvid_lint.cli import main
from cogvid_lint.discover.project import Project, PythonFile
from cogvid_lint.fix.text import apply_text_edits, unified_diff, write_text_atomic, read_source_text
from cogvid_lint.findings import TextEdit
from cogvid_lint.python.sorters import detect_sorters
from cogvid_lint.registry import RuleContext, load_checks

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "python"
SNAPSHOTS = HERE / "snapshots" / "python"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
MARK = re.compile(r"#\s*(CVL4\d\d)\b")


def _cases() -> list[pytest.param]:
    out = [pytest.param(p, id=f"cases/{p.name}") for p in sorted((FIXTURES / "cases").glob("*.py"))]
    out += [pytest.param(p, id=f"repos/{p.name}") for p in sorted((FIXTURES / "repos").iterdir()) if p.is_dir()]
    return out


def _stage(source: Path, tmp_path: Path) -> Path:
    """Copy a fixture into an empty folder of its own (no .git, no config above it)."""
    target = tmp_path / "proj"
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        target.mkdir(parents=True)
        shutil.copy2(source, target / source.name)
    return target


def _expected(folder: Path) -> set[tuple[str, int, str]]:
    found = set()
    for path in sorted(folder.rglob("*.py")):
        text = path.read_bytes().decode("utf-8", "replace")
        for number, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):
            for code in MARK.findall(line):
                found.add((path.relative_to(folder).as_posix(), number, code))
    return found


def _lint(folder: Path, capsys, monkeypatch, *extra: str) -> list[dict]:
    monkeypatch.chdir(folder)
    capsys.readouterr()
    main(["check", ".", "--select", "CVL4", "--output-format", "json", *extra])
    out = capsys.readouterr().out
    return json.loads(out[out.index("{"):])["diagnostics"] if "{" in out else []


def _reported(diagnostics: list[dict], folder: Path) -> set[tuple[str, int, str]]:
    out = set()
    for d in diagnostics:
        path = Path(d["path"])
        rel = (path if path.is_absolute() else folder / path).resolve().relative_to(folder.resolve()).as_posix()
        out.add((rel, d["line"], d["code"]))
    return out


@pytest.mark.parametrize("fixture", _cases())
def test_fixture_expectations(fixture: Path, tmp_path, capsys, monkeypatch):
    folder = _stage(fixture, tmp_path)
    diagnostics = _lint(folder, capsys, monkeypatch)
    assert _reported(diagnostics, folder) == _expected(folder)


# ------------------------------------------------------------------------- fix snapshots

def _snapshot_cases() -> list[pytest.param]:
    out = []
    for param in _cases():
        (fixture,) = param.values
        files = [fixture] if fixture.is_file() else sorted(fixture.rglob("*.py"))
        if any(re.search(rb"#\s*CVL40[12]\b", f.read_bytes()) for f in files):
            for unsafe in (False, True):
                out.append(pytest.param(fixture, unsafe, id=f"{param.id}{'-unsafe' if unsafe else ''}"))
    return out


def _snapshot_name(fixture: Path, rel: str, unsafe: bool) -> str:
    stem = fixture.stem if fixture.is_file() else f"{fixture.name}__{rel[:-3].replace('/', '__')}"
    return f"{stem}{'.unsafe' if unsafe else ''}.py"


@pytest.mark.parametrize("fixture,unsafe", _snapshot_cases())
def test_fix_snapshots(fixture: Path, unsafe: bool, tmp_path, capsys, monkeypatch):
    folder = _stage(fixture, tmp_path)
    before = {p: p.read_bytes() for p in folder.rglob("*.py")}
    _lint(folder, capsys, monkeypatch, "--fix", *(["--unsafe-fixes"] if unsafe else []))
    changed = {p: p.read_bytes() for p in before if p.read_bytes() != before[p]}
    for path, data in changed.items():
        rel = path.relative_to(folder).as_posix()
        ast.parse(data)  # a fixed file must parse
        snap = SNAPSHOTS / _snapshot_name(fixture, rel, unsafe)
        if UPDATE or not snap.exists():
            snap.parent.mkdir(parents=True, exist_ok=True)
            snap.write_bytes(data)
        assert data == snap.read_bytes(), f"{rel}: fixed text differs from {snap.name} (UPDATE_SNAPSHOTS=1)"
    # nothing fixable is left: every remaining CVL401/CVL402 has no fix of the kind applied
    left = _lint(folder, capsys, monkeypatch)
    for d in left:
        if d["code"] in ("CVL401", "CVL402") and d["fix"]:
            assert not unsafe and d["fix"]["applicability"] == "unsafe", d
    _check_sorters_keep_fix(folder, changed, capsys, monkeypatch)
    if fixture.is_file():
        # the same file in a repo that runs isort and ruff: fix, then let the sorters loose
        folder = _stage(fixture, tmp_path / "sorted")
        (folder / "pyproject.toml").write_text(
            "[tool.isort]\nprofile = 'black'\n\n[tool.ruff.lint]\nselect = ['I']\n")
        before = {p: p.read_bytes() for p in folder.rglob("*.py")}
        _lint(folder, capsys, monkeypatch, "--fix", *(["--unsafe-fixes"] if unsafe else []))
        changed = {p: p.read_bytes() for p in before if p.read_bytes() != before[p]}
        _check_sorters_keep_fix(folder, changed, capsys, monkeypatch)


def _check_sorters_keep_fix(folder: Path, changed, capsys, monkeypatch) -> None:
    """Running the sorters the folder configures (when installed) re-creates no CVL401."""
    tools = {s.tool for s in detect_sorters(folder)}
    before_sort = sum(d["code"] == "CVL401" for d in _lint(folder, capsys, monkeypatch))
    for tool, sort in _sorters(folder):
        if tool not in tools:
            continue
        for path in changed:
            sort(path)
        after = sum(d["code"] == "CVL401" for d in _lint(folder, capsys, monkeypatch))
        assert after <= before_sort, f"{tool} re-created decord-before-torch"


def _sorters(folder: Path) -> list:
    out = []
    try:
        import isort
    except ImportError:
        isort = None
    if isort is not None:
        def isort_file(path: Path) -> None:
            text = path.read_bytes().decode("utf-8")
            path.write_bytes(isort.code(text, config=isort.Config(settings_path=str(folder))).encode("utf-8"))
        out.append(("isort", isort_file))
    ruff = shutil.which("ruff")
    if ruff is not None:
        def ruff_file(path: Path) -> None:
            subprocess.run([ruff, "check", "--quiet", "--no-cache", "--select", "I", "--fix", "--exit-zero",
                            str(path)], cwd=folder, check=False, capture_output=True)
        out.append(("ruff", ruff_file))
    return out


# ------------------------------------------------------------------------- text edits

def test_bom_fix_keeps_bom(tmp_path):
    path = tmp_path / "bom.py"
    path.write_bytes((FIXTURES / "cases" / "bom.py").read_bytes())
    (finding,) = _run_check("python.decord_before_torch", tmp_path, path)
    assert (finding.location.line, finding.location.column) == (1, 1)
    new, applied, skipped = apply_text_edits(read_source_text(path), finding.fix.operations)
    assert not skipped and new == "\ufeffimport torch\nimport decord  # CVL401  # isort: skip\n"
    ast.parse(new.encode("utf-8"))


def test_apply_text_edits_back_to_front_and_overlaps(tmp_path):
    p = tmp_path / "x.py"
    text = "abcdef"
    edits = [TextEdit(p, 0, 1, "A"), TextEdit(p, 4, 6, "EF!"), TextEdit(p, 0, 2, "zz"), TextEdit(p, 3, 3, "-"),
             TextEdit(p, 3, 3, "+"), TextEdit(p, 4, 6, "EF!"), TextEdit(p, 9, 12, "out")]
    new, applied, skipped = apply_text_edits(text, edits)
    assert new == "Abc-dEF!"
    assert [(e.start, e.end) for e in applied] == [(0, 1), (3, 3), (4, 6)]
    assert {(e.start, e.replacement) for e in skipped} == {(0, "zz"), (3, "+"), (9, "out")}
    diff = unified_diff("x.py", "a\r\nb\n", "a\r\nc")
    assert "--- a/x.py" in diff and "+c" in diff and "No newline" in diff


def test_read_and_atomic_write_keep_bytes(tmp_path):
    p = tmp_path / "x.py"
    p.write_bytes("\ufeffa = 1\r\nb = 'é'\r".encode())
    p.chmod(0o640)
    text = read_source_text(p)
    assert text.startswith("\ufeff") and "\r\n" in text
    write_text_atomic(p, text + "c = 2\r\n")
    assert p.read_bytes() == "\ufeffa = 1\r\nb = 'é'\rc = 2\r\n".encode()
    assert p.stat().st_mode & 0o777 == 0o640
    assert [q.name for q in tmp_path.iterdir()] == ["x.py"]


# ------------------------------------------------------------------------- property test
# A generated module is a tree of statements; the reference verdict is computed on that
# tree (not on the source), following the prose: module-level statements in
# order through try/except/else/finally, with and both if-branches; TYPE_CHECKING
# bodies never; function bodies afterwards, each its own scope.

IMPORTS = {
    "torch": ("torch", "import torch"),
    "torch_sub": ("torch", "import torch.nn as nn"),
    "from_torch": ("torch", "from torch import nn"),
    "torchvision": ("torch", "import torchvision"),
    "decord": ("decord", "import decord"),
    "from_decord": ("decord", "from decord import VideoReader, cpu"),
    "decord_multi": ("decord", "from decord import (VideoReader,\n    cpu)"),
    "decord_as": ("decord", "import decord as de"),
    "os": (None, "import os"),
    "numpy": (None, "import numpy as np"),
}

leaf = st.one_of(st.tuples(st.just("imp"), st.sampled_from(sorted(IMPORTS))), st.just(("stmt",)))


def _compound(children):
    body = st.lists(children, min_size=1, max_size=3)
    return st.one_of(
        st.tuples(st.just("try"), body, body, st.booleans()),
        st.tuples(st.just("if"), body, st.lists(children, max_size=2)),
        st.tuples(st.just("tc"), body),
        st.tuples(st.just("with"), body),
        st.tuples(st.just("def"), body),
    )


stmt_tree = st.recursive(leaf, _compound, max_leaves=8)
programs = st.tuples(st.lists(stmt_tree, min_size=1, max_size=7), st.booleans())


def _render(stmts, main_guard: bool):
    lines: list[str] = []
    events: list[tuple[str, int, int, int]] = []  # (kind, line, scope, order)
    deferred = []
    counter = {"scope": 0}

    def emit(text: str, indent: int) -> int:
        first = len(lines) + 1
        for i, part in enumerate(text.split("\n")):
            lines.append("    " * indent + part if i == 0 else "    " * indent + part)
        return first

    def block(stmts, indent, scope, record: bool):
        for s in stmts:
            if s[0] == "imp":
                kind, text = IMPORTS[s[1]]
                line = emit(text, indent)
                if record and kind:
                    events.append((kind, line, scope, 0))
            elif s[0] == "stmt":
                emit("x = 1", indent)
            elif s[0] == "try":
                emit("try:", indent)
                block(s[1], indent + 1, scope, record)
                emit("except ImportError:", indent)
                block(s[2], indent + 1, scope, record)
                if s[3]:
                    emit("finally:", indent)
                    emit("pass", indent + 1)
            elif s[0] == "if":
                emit("if x:", indent)
                block(s[1], indent + 1, scope, record)
                if s[2]:
                    emit("else:", indent)
                    block(s[2], indent + 1, scope, record)
            elif s[0] == "tc":
                emit("if TYPE_CHECKING:", indent)
                block(s[1], indent + 1, scope, False)
            elif s[0] == "with":
                emit("with ctx:", indent)
                block(s[1], indent + 1, scope, record)
            elif s[0] == "def":
                emit(f"def f{len(lines)}():", indent)
                start = len(lines)
                block(s[1], indent + 1, -1, False)  # rendered now, recorded later
                deferred.append((s[1], indent + 1, start, record))

    emit("from typing import TYPE_CHECKING", 0)
    emit("x = ctx = None", 0)
    block(stmts, 0, 0, True)
    if main_guard:
        emit('if __name__ == "__main__":', 0)
        emit("pass", 1)
    # function bodies: walk again, recording lines, in the order they were defined
    queue = list(deferred)
    while queue:
        body, indent, start, record = queue.pop(0)
        counter["scope"] += 1
        scope = counter["scope"]
        _record_function(body, start, scope, events, queue, record)
    return "\n".join(lines) + "\n", events


def _record_function(body, start, scope, events, queue, record):
    """Re-walk a function body to find the lines its imports were rendered on."""
    line = start

    def walk(stmts, live: bool):
        nonlocal line
        for s in stmts:
            line += 1
            if s[0] == "imp":
                kind, text = IMPORTS[s[1]]
                if live and record and kind:
                    events.append((kind, line, scope, 0))
                line += text.count("\n")
            elif s[0] == "try":
                walk(s[1], live)
                line += 1
                walk(s[2], live)
                if s[3]:
                    line += 2
            elif s[0] == "if":
                walk(s[1], live)
                if s[2]:
                    line += 1
                    walk(s[2], live)
            elif s[0] == "tc":
                walk(s[1], False)
            elif s[0] == "with":
                walk(s[1], live)
            elif s[0] == "def":
                queue.append((s[1], None, line, live and record))
                walk(s[1], False)

    walk(body, True)


def _reference(events, is_entry: bool) -> set[int]:
    ordered = [e for e in events if e[2] == 0] + [e for e in events if e[2] > 0]
    torch = [e for e in ordered if e[0] == "torch"]
    module_torch = [e for e in torch if e[2] == 0]
    bad = set()
    for i, (kind, line, scope, _) in enumerate(ordered):
        if kind != "decord":
            continue
        before = [e for e in ordered[:i] if e[0] == "torch"]
        if scope == 0:
            if any(e[2] == 0 for e in before):
                continue
            if torch or is_entry:
                bad.add(line)
        else:
            if module_torch or any(e[2] == scope for e in before):
                continue
            if any(e[2] == scope for e in torch) or (is_entry and not torch):
                bad.add(line)
    return bad


CHECKS = load_checks()


def _run_check(key: str, root: Path, path: Path, params=None):
    project = Project(root=root, settings=None)
    project.python_files = [PythonFile(path, project)]
    ctx = RuleContext(params=params or {}, project=project)
    return list(CHECKS[key](project.python_files[0], ctx))


@settings(max_examples=int(os.environ.get("CVL_PROP_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(programs)
def test_model_matches_reference_and_fix_lints_clean(tmp_path_factory, program):
    stmts, main_guard = program
    source, events = _render(stmts, main_guard)
    root = tmp_path_factory.mktemp("prop")
    (root / "pyproject.toml").write_text("[tool.isort]\nprofile = 'black'\n")
    path = root / "mod.py"
    path.write_text(source)
    found = _run_check("python.decord_before_torch", root, path)
    assert {f.location.line for f in found} == _reference(events, main_guard), source

    # apply every fix (safe and unsafe) of CVL401 then CVL402, re-linting, 3 rounds at most
    for _ in range(3):
        findings = _run_check("python.decord_before_torch", root, path)
        findings += _run_check("python.unguarded_decord_import", root, path)
        edits = [op for f in findings if f.fix for op in f.fix.operations]
        if not edits:
            break
        new, _, _ = apply_text_edits(path.read_text(), edits)
        path.write_text(new)
    fixed = path.read_text()
    ast.parse(fixed)
    left = _run_check("python.decord_before_torch", root, path) + _run_check("python.unguarded_decord_import", root, path)
    assert all(f.fix is None for f in left), fixed


# ------------------------------------------------------------------------- messages

def test_messages_name_the_torch_line_or_function_and_the_chain(tmp_path, capsys, monkeypatch):
    folder = _stage(FIXTURES / "repos" / "transitive", tmp_path)
    for name in ("basic_order.py", "function_torch_only.py", "function_scopes.py", "entry_no_torch.py"):
        shutil.copy2(FIXTURES / "cases" / name, folder / name)
    got = {(d["path"], d["line"]): d for d in _lint(folder, capsys, monkeypatch)}
    basic = got[("basic_order.py", 3)]
    assert basic["column"] == 1 and "torch is first imported on line 5" in basic["message"]
    assert basic["fix"]["applicability"] == "safe"
    only_fn = got[("function_torch_only.py", 1)]
    assert "only imported inside a function" in only_fn["message"] and only_fn["fix"]["applicability"] == "unsafe"
    in_fn = got[("function_scopes.py", 2)]
    assert in_fn["column"] == 5 and "line 3" in in_fn["message"]
    assert "entry script" in got[("entry_no_torch.py", 1)]["message"]
    train = got[("train.py", 2)]
    assert train["code"] == "CVL403" and train["column"] == 1
    assert train["message"].endswith("train.py:2 → data/loader.py:1 → import decord")
    deep = got[("pkg/run.py", 1)]["message"]
    assert "pkg/run.py:1 → pkg/sub.py:1 → pkg/deep.py:1 → from decord import VideoReader as reader" in deep
