"""The fast paths of a warm run give the answers of the slow ones they replaced.

Discovery asks `is_inside` twice and `realpath` once per clip, and every finding renders a
message: the faster versions must agree with pathlib, os.path.realpath and a
string.Formatter on every input, symlinks included.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cogvid_lint.discover.dataset import RealPaths, escapes
from cogvid_lint.engine import render
from cogvid_lint.fsutil import is_inside

_SEGMENTS = st.sampled_from(["a", "b", "ab", "a.b", ".", "..", "", "c d", "b..", "é"])
_PATHS = st.builds(lambda lead, parts: lead + "/".join(parts), st.sampled_from(["/", "//", "///", "", "./"]),
                   st.lists(_SEGMENTS, max_size=5))


def _pathlib_inside(path: str, root: str) -> bool:
    try:
        Path(path).relative_to(root)
        return True
    except ValueError:
        return False


@settings(max_examples=3000, deadline=None)
@given(_PATHS, _PATHS)
def test_is_inside_agrees_with_pathlib(path, root):
    assert is_inside(path, root) == is_inside(Path(path), Path(root)) == _pathlib_inside(path, root)


def test_real_paths_agree_with_realpath_through_links(tmp_path):
    (tmp_path / "data/videos").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/real.mp4").write_bytes(b"x")
    (tmp_path / "data/videos/plain.mp4").write_bytes(b"x")
    (tmp_path / "data/videos/link.mp4").symlink_to(tmp_path / "outside/real.mp4")
    (tmp_path / "data/videos/dangling.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (tmp_path / "data/linked_dir").symlink_to(tmp_path / "outside")
    (tmp_path / "data/self").symlink_to(tmp_path / "data")
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
