"""The code rules' fact cache (cogvid_lint/python/fact_cache.py): a warm run gives the
findings of a cold one without opening an unchanged file; an edited file is analysed
again; `--no-cache` neither reads nor writes; rule parameters apply afresh on cached facts.

Reads are counted with an audit hook (every `open` of the interpreter reports to it), and
once for real with the unchanged files made unreadable (chmod 000, as root with the
capabilities that bypass file permissions dropped, as in test_bad_inputs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from unprivileged import permission_prefix

from conftest import COGVID_LINT

from cogvid_lint.store import DB_NAME
from cogvid_lint.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "python"
CACHE = ".cogvid_lint_cache"

FILES = {
    "pyproject.toml": "[tool.isort]\nprofile = 'black'\n",
    "train.py": "import os\nfrom data import loader\nimport torch\n\nif __name__ == '__main__':\n    loader.run()\n",
    "data/__init__.py": "",
    "data/loader.py": "import decord\n\n\ndef run():\n    return decord\n",
    "bad401.py": "import decord\nimport torch\n",
    "sorted402.py": "import torch\nimport decord\n",
    "guarded.py": "import torch\nimport decord  # isort: skip\n",
    "suppressed.py": "import decord  # noqa: CVL401\nimport torch\n",
    "broken.py": "import decord\nx = (\n",
    "mylib_first.py": "import mylib\nimport decord\n",
    "lib/__init__.py": "",
    "lib/plain.py": "import os\nimport json\n\nVALUE = 1\n",
    "lib/more.py": "from . import plain\n\n\ndef f():\n    return plain.VALUE\n",
}


FIX_READ = {"bad401.py", "sorted402.py", "suppressed.py"}


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    root = _write(tmp_path / "proj", FILES)
    monkeypatch.chdir(root)
    return root


def _lint(capsys, *extra: str) -> str:
    capsys.readouterr()
    main(["check", ".", "--select", "CVL4", "--output-format", "json", "--exit-zero", *extra])
    return capsys.readouterr().out


def _found(out: str) -> set[tuple[str, str]]:
    return {(d["path"], d["code"]) for d in json.loads(out)["diagnostics"]}


# ------------------------------------------------------------------ counting opens

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _OPENED is not None and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # hooks cannot be removed: this one records only inside `_opens()`


@contextmanager
def _opens(root: Path):
    """The .py files under `root` opened inside the block (relative paths)."""
    global _OPENED
    _OPENED = []
    seen: set[str] = set()
    try:
        yield seen
    finally:
        for name in _OPENED:
            path = Path(name) if os.path.isabs(name) else Path.cwd() / name
            if name.endswith(".py") and path.resolve().is_relative_to(root.resolve()):
                seen.add(path.resolve().relative_to(root.resolve()).as_posix())
        _OPENED = None


# ------------------------------------------------------------------ tests

def test_warm_run_gives_the_cold_findings_and_opens_only_files_to_fix(proj, capsys):
    with _opens(proj) as cold_read:
        cold = _lint(capsys)
    assert cold_read == {rel for rel in FILES if rel.endswith(".py")}
    assert _found(cold) == {("train.py", "CVL403"), ("bad401.py", "CVL401"), ("sorted402.py", "CVL402"),
                            ("broken.py", "CVL400")}
    assert (proj / CACHE / DB_NAME).is_file()
    with _opens(proj) as warm_read:
        warm = _lint(capsys)
    assert warm == cold  # the same JSON, fixes included
    # only the files with CVL401/CVL402 findings are read, for their fixes' text edits
    # (suppressed.py's finding is dropped by its noqa after the check)
    assert warm_read == FIX_READ
    assert _lint(capsys, "--no-cache") == cold


def test_warm_run_of_a_clean_tree_opens_no_python_file(proj, capsys):
    for rel in ("bad401.py", "sorted402.py", "broken.py", "suppressed.py"):
        (proj / rel).unlink()
    cold = _lint(capsys)
    assert _found(cold) == {("train.py", "CVL403")}
    with _opens(proj) as warm_read:
        assert _lint(capsys) == cold
    assert warm_read == set()


def test_every_fixture_warm_equals_cold(tmp_path, capsys, monkeypatch):
    root = tmp_path / "all"
    shutil.copytree(FIXTURES / "repos" / "transitive", root)
    for case in sorted((FIXTURES / "cases").glob("*.py")):
        shutil.copy2(case, root / case.name)
    (root / "pyproject.toml").write_text("[tool.isort]\nprofile = 'black'\n")
    monkeypatch.chdir(root)
    cold = _lint(capsys)
    assert len(json.loads(cold)["diagnostics"]) > 30
    assert _lint(capsys) == cold
    assert _lint(capsys, "--no-cache") == cold


def test_edited_file_is_analysed_again(proj, capsys):
    _lint(capsys)
    path = proj / "bad401.py"
    st = path.stat()
    # same size, new content, new mtime (written in place: same inode)
    path.write_text("import torch\nimport decord\n", encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert path.stat().st_size == st.st_size and path.stat().st_ino == st.st_ino
    with _opens(proj) as read:
        found = _found(_lint(capsys))
    assert ("bad401.py", "CVL401") not in found and ("bad401.py", "CVL402") in found
    assert "bad401.py" in read and "lib/plain.py" not in read
    # same content, new mtime only: read again, same answer
    os.utime(proj / "lib/plain.py", ns=(st.st_atime_ns, st.st_mtime_ns + 9_000_000_000))
    with _opens(proj) as read:
        assert _found(_lint(capsys)) == found
    assert "lib/plain.py" in read
    # a content change of another size: the decord import goes away
    (proj / "data/loader.py").write_text("import os\n", encoding="utf-8")
    assert ("train.py", "CVL403") not in _found(_lint(capsys))
    assert _found(_lint(capsys)) == _found(_lint(capsys, "--no-cache"))


def test_no_cache_neither_reads_nor_writes(proj, capsys, tmp_path):
    _lint(capsys, "--no-cache")
    assert not (proj / CACHE).exists()
    primed = _lint(capsys)
    # An edit the stat key cannot see (same size, mtime put back, same inode): the cache
    # answers with the old facts, --no-cache with the file's real content.
    path = proj / "bad401.py"
    st = path.stat()
    path.write_text("import torch\nimport decord\n", encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _found(_lint(capsys)) == _found(primed)
    before = _db_bytes(proj / CACHE)
    fresh = _found(_lint(capsys, "--no-cache"))
    assert ("bad401.py", "CVL401") not in fresh and ("bad401.py", "CVL402") in fresh
    assert _db_bytes(proj / CACHE) == before


def _db_bytes(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        digest.update(name.encode() + (folder / name).read_bytes())
    return digest.hexdigest()


def test_cache_dir_holds_the_facts(proj, capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    cold = _lint(capsys, "--cache-dir", str(elsewhere))
    assert not (proj / CACHE).exists()
    with sqlite3.connect(elsewhere / DB_NAME) as conn:
        rows = conn.execute("SELECT count(*) FROM python_facts").fetchone()[0]
    assert rows == sum(rel.endswith(".py") for rel in FILES)
    with _opens(proj) as read:
        assert _lint(capsys, "--cache-dir", str(elsewhere)) == cold
    assert read == FIX_READ


def test_parameters_apply_afresh_on_cached_facts(proj, capsys):
    assert ("mylib_first.py", "CVL401") not in _found(_lint(capsys))  # no torch at all: CVL403's business
    (proj / "cogvid-lint.yaml").write_text("rules:\n  CVL401:\n    params:\n      torch_modules: [mylib]\n"
                                           "  CVL402:\n    params:\n      torch_modules: [mylib]\n")
    (proj / "bad401.py").unlink()
    with _opens(proj) as read:
        found = _found(_lint(capsys))
    # mylib counts as torch now: it comes first, so mylib_first.py is fine; and decord
    # after it in one import block sorted by isort is CVL402
    assert ("mylib_first.py", "CVL402") in found and ("mylib_first.py", "CVL401") not in found
    assert read == {"sorted402.py", "mylib_first.py", "suppressed.py"}


def test_facts_a_new_decord_file_needs_are_computed_then(proj, capsys):
    """Import names are only gathered once some file mentions decord; a warm run that
    needs them for unchanged files computes (and stores) them then."""
    for rel in ("data/loader.py", "bad401.py", "sorted402.py", "guarded.py", "suppressed.py", "broken.py",
                "mylib_first.py"):
        (proj / rel).unlink()
    assert _found(_lint(capsys)) == set()
    (proj / "data/loader.py").write_text("import decord\n", encoding="utf-8")
    assert _found(_lint(capsys)) == {("train.py", "CVL403")}
    with _opens(proj) as read:
        assert _found(_lint(capsys)) == {("train.py", "CVL403")}
    assert read == set()


def test_chmod_000_unchanged_files_warm_run_is_the_same(proj, capsys):
    """The real thing: files the warm run must not read cannot be read."""
    cold = _lint(capsys)
    keep = FIX_READ  # read for their fixes' text edits (and suppressed.py for its noqa)
    locked = [proj / rel for rel in FILES if rel.endswith(".py") and rel not in keep]
    prefix = permission_prefix()

    def run(*extra: str) -> str:
        command = [COGVID_LINT]  # the installed command
        proc = subprocess.run([*prefix, *command, "check", ".", "--select", "CVL4",
                               "--output-format", "json", "--exit-zero", *extra], cwd=proj, capture_output=True,
                              text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        return proc.stdout

    for path in locked:
        path.chmod(0)
    try:
        assert run() == cold
        # without the cache the locked files really are unreadable: their findings go
        assert ("train.py", "CVL403") not in _found(run("--no-cache"))
    finally:
        for path in locked:
            path.chmod(0o644)


def test_unusable_cache_folder_warns_once_and_lints(proj, capsys):
    blocker = proj / "not-a-folder"
    blocker.write_text("x")
    capsys.readouterr()
    main(["check", ".", "--select", "CVL4", "--output-format", "json", "--exit-zero", "--cache-dir",
          str(blocker / "cache")])
    out, err = capsys.readouterr()
    assert err.count("warning") == 1, err
    assert _found(out) == _found(_lint(capsys, "--no-cache"))
