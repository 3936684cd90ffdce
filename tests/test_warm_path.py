"""The fast paths of a warm run give the answers of the slow ones they replaced.

Discovery asks `is_inside` twice and `realpath` once per clip, and every finding renders a
message: the faster versions must agree with pathlib, os.path.realpath and a
string.Formatter on every input, symlinks included.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cogvid_lint.discover.dataset import RealPaths, escapes, plain_relative
from cogvid_lint.discover.project import UNKNOWN, path_stem
from cogvid_lint.engine import render
from cogvid_lint.fsutil import is_inside
from cogvid_lint.report.json_format import dumps_indented
from cogvid_lint.report.result import RunResult

_SEGMENTS = st.sampled_from(["a", "b", "ab", "a.b", ".", "..", "", "c d", "b..", "é"])
_PATHS = st.builds(lambda lead, parts: lead + "/".join(parts), st.sampled_from(["/", "//", "///", "", "./"]),
                   st.lists(_SEGMENTS, max_size=5))


def _pathlib_inside(path: str, root: str) -> bool:
    try:
        Path(path).relative_to(root)
        return True
    except ValueError:
        return False


@settings(max_examples=800, deadline=None)
@given(_PATHS, _PATHS)
def test_is_inside_agrees_with_pathlib(path, root):
    assert is_inside(path, root) == is_inside(Path(path), Path(root)) == _pathlib_inside(path, root)


def _links(tmp_path: Path) -> None:
    """A data root with links out of it, inside it, to itself, and dangling."""
    (tmp_path / "data/videos/sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/real.mp4").write_bytes(b"xy")
    (tmp_path / "data/videos/plain.mp4").write_bytes(b"x")
    (tmp_path / "data/videos/link.mp4").symlink_to(tmp_path / "outside/real.mp4")
    (tmp_path / "data/videos/inner_link.mp4").symlink_to(tmp_path / "data/videos/plain.mp4")
    (tmp_path / "data/videos/dangling.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (tmp_path / "data/linked_dir").symlink_to(tmp_path / "outside")
    (tmp_path / "data/self").symlink_to(tmp_path / "data")


def test_real_paths_agree_with_realpath_through_links(tmp_path):
    _links(tmp_path)
    real = RealPaths()
    names = ["videos/plain.mp4", "videos/link.mp4", "videos/dangling.mp4", "videos/missing.mp4",
             "linked_dir/real.mp4", "linked_dir/missing.mp4", "self/videos/plain.mp4", "self/self/videos/link.mp4"]
    root = tmp_path / "data"
    for name in names * 2:  # the second round answers from the memo
        path = os.path.join(root, name)
        assert real(path) == os.path.realpath(path), name
        assert escapes(Path(path), root, real) == escapes(Path(path), root), name
    assert [escapes(root / n, root, real) for n in names] == [False, True, True, False, True, True, False, True]


class _Reference(string.Formatter):
    """The renderer the engine used before: unknown names stay as `{name}`."""

    def get_value(self, key, args, kwargs):
        if isinstance(key, str) and key not in kwargs:
            return "{" + key + "}"
        return super().get_value(key, args, kwargs)


def _reference(template: str, values: dict) -> str:
    try:
        return _Reference().vformat(template, (), dict(values))
    except (ValueError, IndexError, AttributeError, TypeError):
        return template
    except KeyError:  # `{a[0]}` on a dict: the old renderer let this out (a crash); now the template stays
        return template


_TEMPLATES = ["{a}", "{a:.2f}", "{missing:.2f}", "{0}", "{}", "{a.b}", "{a[0]}", "{x[y]}", "{missing.x}", "{",
              "}", "{{lit}} {a}", "{a!r}", "{missing!r}", "{a:>5}", "{a:{b}}", "{b} of {missing} at {a}"]


# Small numbers: `{a:{b}}` with b = 10**12 asks for a terabyte of padding (MemoryError, both ways).
_VALUES = st.one_of(st.integers(-999, 999), st.floats(-999, 999), st.text(max_size=3), st.just({"y": 2}))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_TEMPLATES), st.sampled_from(_TEMPLATES),
       st.dictionaries(st.sampled_from(["a", "b", "x"]), _VALUES))
def test_render_agrees_with_the_string_formatter(first, second, values):
    template = first + " " + second
    assert render(template, values) == _reference(template, values)


# --- the string fast paths of discovery, the checks and the reporters -----------------------------------

@settings(max_examples=800, deadline=None)
@given(_PATHS)
def test_path_stem_agrees_with_pathlib(path):
    assert path_stem(path) == Path(path).stem


@settings(max_examples=800, deadline=None)
@given(_PATHS, st.lists(_SEGMENTS, min_size=1, max_size=4))
def test_plain_relative_lines_join_as_normpath_would(base, parts):
    """Discovery joins a plain line onto a plain base with one `/`; the trainer's path is the same
    and lexically inside the base."""
    text = "/".join(parts)
    base = os.path.normpath("/" + base.lstrip("/"))
    if plain_relative(text) and base != "/":
        assert os.path.normpath(os.path.join(base, text)) == f"{base}/{text}"
        assert is_inside(f"{base}/{text}", base)


def _reference_relpath(path: str, cwd: str) -> str:
    """RunResult.relpath before it compared strings."""
    try:
        rel = Path(path).relative_to(cwd)
        return rel.as_posix() if str(rel) != "." else "."
    except ValueError:
        return Path(os.path.normpath(path)).as_posix()


@settings(max_examples=800, deadline=None)
@given(_PATHS, _PATHS)
def test_relpath_agrees_with_pathlib(path, cwd):
    result = RunResult(diagnostics=(), rules=(), cwd=Path(cwd))
    assert result.relpath(Path(path)) == result.relpath(path) == _reference_relpath(path, os.fspath(Path(cwd)))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    | st.tuples(inner, inner), max_leaves=12)


@settings(max_examples=500, deadline=None)
@given(_JSON)
def test_json_report_layout_is_json_dumps_indent_2(value):
    assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert dumps_indented({"diagnostics": [value, {"fix": value}]}) == \
        json.dumps({"diagnostics": [value, {"fix": value}]}, indent=2, ensure_ascii=False)


def test_place_agrees_with_escapes_and_stat_through_links(tmp_path):
    """Discovery's one lstat per clip: the same escape verdicts as `escapes`, and the stat it keeps
    is os.stat's (links followed), or None where os.stat fails."""
    _links(tmp_path)
    names = ["videos/plain.mp4", "videos/link.mp4", "videos/inner_link.mp4", "videos/dangling.mp4",
             "videos/missing.mp4", "linked_dir/real.mp4", "linked_dir/missing.mp4", "self/videos/plain.mp4",
             "self/self/videos/link.mp4", "videos/sub", "videos", ".", "videos/./plain.mp4", "videos//plain.mp4",
             "../outside/real.mp4", "videos/../videos/plain.mp4", "nul\0.mp4"]
    for root in (tmp_path / "data", tmp_path / "data/self", tmp_path / "data/videos"):
        real = RealPaths()
        for name in names * 2:  # the second round answers from the memos
            path = os.path.join(root, name)
            outside, st = real.place(path, os.fspath(root))
            assert outside == escapes(Path(path), root, RealPaths()), (root, name)  # its old answer
            if "\0" not in name:  # os.path.realpath raises on a NUL: `escapes` alone says True
                assert outside == escapes(Path(path), root), (root, name)
            if st is not UNKNOWN:
                try:
                    expected = os.stat(path)
                except (OSError, ValueError):
                    expected = None
                assert st == expected, (root, name)


def test_a_warm_run_stats_each_clip_once(project, lint_json, monkeypatch):
    """Discovery's lstat is the only look at a clip a warm run takes (the cache rules, the
    duplicate-clip rule and the probe step reuse it), and nothing opens a clip."""
    names = [f"videos/c{i}.mp4" for i in range(6)]
    root = project(files={"prompts.txt": "a cat\n" * 7, "videos.txt": "\n".join(names + names[:1]) + "\n"},
                   clips={name: {"frames": 9} for name in names})
    (root / "videos/c5.mp4").write_bytes((root / "videos/c4.mp4").read_bytes())  # same size: hashed, once
    first = lint_json("--data-root", ".", "--train-resolution", "9x48x64")
    seen: list[str] = []
    clips = {os.path.join(root, name) for name in names}
    for module, name in ((os, "stat"), (os, "lstat"), (builtins_module(), "open")):
        original = getattr(module, name)

        def spy(path, *args, _original=original, **kwargs):
            if isinstance(path, (str, os.PathLike)) and os.fspath(path) in clips:
                seen.append(os.fspath(path))
            return _original(path, *args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    second = lint_json("--data-root", ".", "--train-resolution", "9x48x64")
    monkeypatch.undo()
    assert second == first
    assert {d["code"] for d in first[1]["diagnostics"]} >= {"CVL007"}
    assert sorted(seen) == sorted(clips)  # once each: the clip listed twice is not looked at twice either


def builtins_module():
    import builtins

    return builtins
