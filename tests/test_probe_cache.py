"""The probe cache: real clips, a real SQLite file, real concurrent processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import COGVID_LINT
from cogvid_lint.cli import main
from cogvid_lint.probe import cache as probe_facts
from cogvid_lint.probe.cache import probe_version
from cogvid_lint.store import DB_NAME, DIR_NAME as CACHE_DIR_NAME, StatKey, Store, checksum
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.worker import DEFAULT_PROBE

TESTS = Path(__file__).resolve().parent

CLIPS = {
    "data/videos/a.mp4": {"frames": 12, "width": 96, "height": 64},
    "data/videos/b.webm": {"frames": 9, "width": 64, "height": 48},
    "data/videos/c.mkv": {"frames": 17, "width": 64, "height": 32, "rotation": 90},
}
FILES = {
    "data/prompts.txt": "one\ntwo\nthree\nfour\n",
    "data/videos.txt": "videos/a.mp4\nvideos/b.webm\nvideos/c.mkv\nvideos/broken.mp4\n",
    "data/videos/broken.mp4": "this is not a video\n",
}


class _Probes:
    """The probe facts of one version in the store of `folder`."""

    def __init__(self, folder: Path, version: str):
        self.store, self.version = Store(folder), version

    def store_(self, entries) -> None:
        probe_facts.put(self.store, self.version, entries)

    def lookup(self, keys) -> dict[str, VideoInfo]:
        return probe_facts.lookup(self.store, self.version, keys)


def open_cache(folder: Path, version: str) -> _Probes:
    return _Probes(folder, version)


def _rows(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT path, size, mtime_ns, inode, value FROM probes")
        return {os.fsdecode(path): (size, mtime, inode, json.loads(info)) for path, size, mtime, inode, info in rows}


def _clip_findings(report: dict, name: str) -> list[tuple[str, str]]:
    return [(d["code"], d["message"]) for d in report["diagnostics"] if d["path"].endswith(name)]


def test_cold_run_fills_a_tagged_ignored_cache_and_warm_run_agrees(project, lint_json):
    root = project(FILES, CLIPS)
    code, cold = lint_json("--data-root", "data")
    cache = root / CACHE_DIR_NAME
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (cache / ".gitignore").read_text() == "*\n"
    rows = _rows(cache / DB_NAME)
    assert set(rows) == {str(root / "data/videos" / n) for n in ("a.mp4", "b.webm", "c.mkv", "broken.mp4")}
    broken = rows[str(root / "data/videos/broken.mp4")][3]
    assert VideoInfo(*broken).error  # failures are cached too
    warm_code, warm = lint_json("--data-root", "data")
    assert (warm_code, warm) == (code, cold)
    assert any(c == "CVL101" for c, _ in _clip_findings(cold, "broken.mp4"))


def test_warm_run_reads_no_clip(project, lint_json):
    """Same size, mtime and inode: the cached answer stands without opening the file."""
    root = project(FILES, CLIPS)
    _, cold = lint_json("--data-root", "data")
    clip = root / "data/videos/a.mp4"
    st = clip.stat()
    with open(clip, "r+b") as handle:  # garbage in place: same inode, same size
        handle.write(b"\0" * st.st_size)
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns))
    _, warm = lint_json("--data-root", "data")
    assert warm == cold
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # now it looks changed
    _, fresh = lint_json("--data-root", "data")
    assert ("CVL101" in {c for c, _ in _clip_findings(fresh, "a.mp4")}
            and "CVL101" not in {c for c, _ in _clip_findings(cold, "a.mp4")})


def test_key_is_path_size_mtime_inode_and_version(tmp_path):
    clip = tmp_path / "x.mp4"
    clip.write_bytes(b"abc")
    key = StatKey.of(str(clip), clip.stat())
    info = VideoInfo(path=str(clip), frames=7, width=4, height=2, fps=8.0)
    cache = open_cache(tmp_path / "c", "v1")
    cache.store_([(key, info)])
    assert cache.lookup([key]) == {str(clip): info}
    for changed in (key._replace(size=4), key._replace(mtime_ns=key.mtime_ns + 1), key._replace(inode=key.inode + 1),
                    key._replace(path=str(tmp_path / "y.mp4"))):
        assert cache.lookup([changed]) == {}
    other = open_cache(tmp_path / "c", "v2")  # another probe version
    assert other.lookup([key]) == {}
    assert probe_version(DEFAULT_PROBE) != probe_version("probe_standins:misbehaving")


def test_replaced_file_same_size_and_mtime_is_reprobed(project, lint_json):
    root = project(FILES, CLIPS)
    lint_json("--data-root", "data")
    clip = root / "data/videos/a.mp4"
    st = clip.stat()
    tmp = clip.with_name("tmp.mp4")
    tmp.write_bytes(b"\0" * st.st_size)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, clip)  # new inode; size and mtime as before
    _, report = lint_json("--data-root", "data")
    assert "CVL101" in {c for c, _ in _clip_findings(report, "a.mp4")}


def test_lookup_of_many_paths_spans_parameter_chunks(tmp_path):
    cache = open_cache(tmp_path / "c", "v")
    keys = [StatKey(f"/clips/{i}.mp4", i, i * 10, i + 5) for i in range(2500)]
    cache.store_((k, VideoInfo(path=k.path, frames=k.size)) for k in keys)
    found = cache.lookup(keys)
    assert len(found) == 2500 and found["/clips/2499.mp4"].frames == 2499
    undecodable = "/clips/\udcff.mp4"  # a non-UTF-8 file name (surrogate-escaped)
    cache.store_([(StatKey(undecodable, 1, 1, 1), VideoInfo(path=undecodable))])
    assert cache.lookup([StatKey(undecodable, 1, 1, 1)])[undecodable].path == undecodable


def test_no_cache_and_cache_dir_flags(project, lint_json, tmp_path):
    root = project(FILES, CLIPS)
    lint_json("--data-root", "data", "--no-cache")
    assert not (root / CACHE_DIR_NAME).exists()
    elsewhere = tmp_path / "elsewhere" / "cache"
    lint_json("--data-root", "data", "--cache-dir", str(elsewhere))
    assert (elsewhere / DB_NAME).is_file() and not (root / CACHE_DIR_NAME).exists()


def test_config_cache_dir_is_relative_to_the_config_file(project, lint_json):
    root = project({**FILES, "cogvid-lint.yaml": "data-root: data\ncache-dir: build/probe-cache\n"}, CLIPS)
    lint_json()
    assert len(_rows(root / "build/probe-cache" / DB_NAME)) == 4


def test_cache_clean_removes_only_its_own_files(project, lint_json, capsys):
    root = project(FILES, CLIPS)
    lint_json("--data-root", "data")
    assert main(["cache", "clean"]) == 0
    assert not (root / CACHE_DIR_NAME).exists()
    assert "Removed the probe cache" in capsys.readouterr().err
    shared = root / "shared"
    shared.mkdir()
    (shared / "keep.txt").write_text("mine")
    lint_json("--data-root", "data", "--cache-dir", "shared")
    assert main(["cache", "clean", "--cache-dir", "shared"]) == 0
    assert sorted(p.name for p in shared.iterdir()) == ["keep.txt"]
    assert main(["cache", "clean"]) == 0 and "No probe cache" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["garbage", "overwritten-pages"])
def test_corrupt_database_is_rebuilt_with_one_warning(project, lint_json, capsys, damage):
    root = project(FILES, CLIPS)
    _, cold = lint_json("--data-root", "data")
    db = root / CACHE_DIR_NAME / DB_NAME
    if damage == "garbage":
        db.write_bytes(os.urandom(3000) + b"not a database at all" * 100)
    else:  # keep SQLite's header, wreck the pages behind it
        data = bytearray(db.read_bytes())
        data[100:] = b"\xa5" * (len(data) - 100)
        db.write_bytes(bytes(data))
    capsys.readouterr()
    code = main(["--data-root", "data", "--output-format", "json"])
    captured = capsys.readouterr()
    assert json.loads(captured.out) == cold and code == 1
    warnings = [line for line in captured.err.splitlines() if line.strip()]
    assert len(warnings) == 1 and "corrupt" in warnings[0] and str(db) in warnings[0]
    assert "Traceback" not in captured.err
    assert len(_rows(db)) == 4  # rebuilt and refilled
    _, again = lint_json("--data-root", "data")
    assert again == cold and capsys.readouterr().err == ""


def test_unusable_cache_folder_warns_and_lints(project, capsys):
    root = project({**FILES, "blocker": "a file, not a folder\n"}, CLIPS)
    code = main(["--data-root", "data", "--output-format", "json", "--cache-dir", "blocker/cache"])
    captured = capsys.readouterr()
    assert code == 1 and json.loads(captured.out)["diagnostics"]
    assert captured.err.count("\n") == 1 and "cannot create the probe cache" in captured.err
    assert root.joinpath("blocker").is_file()


_HAMMER = """
import sys
from cogvid_lint.probe import cache
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.store import StatKey, Store
folder, me = sys.argv[1], int(sys.argv[2])
for round in range(40):
    store = Store(__import__("pathlib").Path(folder))
    keys = [StatKey(f"/c/{me}-{round}-{i}", i, round, me) for i in range(50)]
    cache.put(store, "v", ((k, VideoInfo(path=k.path, frames=k.size)) for k in keys))
    assert len(cache.lookup(store, "v", keys)) == 50, "lost writes"
    assert not store.warnings, store.warnings
"""


def test_concurrent_processes_share_the_database(tmp_path):
    folder = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", _HAMMER, str(folder), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(6)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outs
    assert all(err == "" for _, err in outs), outs  # no "locked" warnings: the busy timeout waits
    assert len(_rows(folder / DB_NAME)) == 6 * 40 * 50


def test_two_cogvid_lint_runs_at_once(project):
    root = project(FILES, {**CLIPS, **{f"data/more/{i}.mp4": {"frames": 9 + i} for i in range(12)}})
    (root / "data/videos.txt").write_text(FILES["data/videos.txt"] + "".join(f"more/{i}.mp4\n" for i in range(12)))
    (root / "data/prompts.txt").write_text("".join(f"prompt {i}\n" for i in range(16)))
    cmd = [COGVID_LINT, "--data-root", "data", "--output-format", "json"]
    procs = [subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [1, 1] and outs[0][0] == outs[1][0], outs
    assert outs[0][1] == outs[1][1] == ""
    assert len(_rows(root / CACHE_DIR_NAME / DB_NAME)) == 16
    warm = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert warm.stdout == outs[0][0]


def test_duplicate_content_hashes_are_cached_too(project, lint_json):
    """CVL007 hashes clips of equal size; a warm run answers from the cache, reading neither."""
    root = project({"data/prompts.txt": "one\ntwo\n", "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\n"},
                   {"data/videos/a.mp4": {"frames": 12}})
    (root / "data/videos/b.mp4").write_bytes((root / "data/videos/a.mp4").read_bytes())
    _, cold = lint_json("--data-root", "data", "--select", "CVL007")
    assert [d["path"] for d in cold["diagnostics"]] == ["data/videos/b.mp4"]
    with sqlite3.connect(root / CACHE_DIR_NAME / DB_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM digests").fetchone() == (2,)
    clip = root / "data/videos/b.mp4"
    st = clip.stat()
    with open(clip, "r+b") as handle:  # other bytes, same size and inode, mtime put back
        handle.write(b"\1" * st.st_size)
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns))
    _, warm = lint_json("--data-root", "data", "--select", "CVL007")
    assert warm == cold
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    _, fresh = lint_json("--data-root", "data", "--select", "CVL007")
    assert fresh["diagnostics"] == []
    _, uncached = lint_json("--data-root", "data", "--select", "CVL007", "--no-cache")
    assert uncached["diagnostics"] == []


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_many_same_size_clips_are_hashed_in_parallel_with_the_serial_answer(project, lint_json, jobs):
    """Over 512 clips of one size are hashed in forked processes (cache._digest_all): the
    duplicate-clip answers are those of the serial path, in order, with or without cache."""
    files = {f"data/videos/c{i:04d}.mp4": (f"clip {i:04d}".encode() * 100) for i in range(600)}
    files["data/videos/c0599.mp4"] = files["data/videos/c0007.mp4"]  # one real duplicate
    files["data/videos.txt"] = "".join(f"videos/c{i:04d}.mp4\n" for i in range(600))
    files["data/prompts.txt"] = "".join(f"caption {i}\n" for i in range(600))
    project(files)
    for extra in (["--no-cache"], [], []):  # uncached, then cold into the cache, then warm
        _, report = lint_json("--data-root", "data", "--select", "CVL007", "-j", jobs, *extra)
        found = [(d["path"], d["message"]) for d in report["diagnostics"]]
        assert len(found) == 1 and found[0][0] == "data/videos/c0599.mp4", found
        assert "identical content" in found[0][1] and "c0007.mp4" in found[0][1]


def test_an_unusable_cache_folder_warns_once_per_run(project, capsys):
    """Probes, duplicate-clip digests and code facts all open the cache: one warning."""
    from cogvid_lint.cli import main

    root = project({"data/videos.txt": "videos/a.mp4\nvideos/b.mp4\n", "data/prompts.txt": "a\nb\n",
                    "train.py": "import os\n", "blocker": ""},
                   {"data/videos/a.mp4": {}, "data/videos/b.mp4": {}})
    (root / "data/videos/b.mp4").write_bytes((root / "data/videos/a.mp4").read_bytes())  # a duplicate
    capsys.readouterr()
    code = main(["--data-root", "data", "--cache-dir", str(root / "blocker/c"), "--output-format", "json", ".",
                 "data"])
    out = capsys.readouterr()
    assert code == 1 and '"CVL007"' in out.out
    assert out.err.count("warning") == 1, out.err


@pytest.mark.parametrize("damage", ["type", "bitflip", "short", "negative"])
def test_a_damaged_row_is_a_miss_reprobed_with_one_warning(project, lint_json, capsys, damage):
    """A row that is valid JSON but not what a probe writes (a frame count of "many", a list
    of the wrong length, a negative size), or whose bytes changed under its checksum, is a
    miss: the clip is probed again, the report is the cold one, and one warning says so."""
    root = project(FILES, CLIPS)
    _, cold = lint_json("--data-root", "data")
    capsys.readouterr()
    db = root / CACHE_DIR_NAME / DB_NAME
    target = os.fsencode(root / "data/videos/a.mp4")
    with sqlite3.connect(db) as conn:
        version, value = conn.execute("SELECT version, value FROM probes WHERE path = ?", (target,)).fetchone()
        row = json.loads(value)
        if damage == "type":
            row[2] = "many"
        elif damage == "short":
            row = row[:-1]
        elif damage == "negative":
            row[4] = -96
        text = json.dumps(row)
        check = checksum(version, text)
        if damage == "bitflip":  # one bit of the value flipped, the checksum as written
            text, check = value.replace('"', "'", 1), checksum(version, value)
        conn.execute("UPDATE probes SET value = ?, checksum = ? WHERE path = ?", (text, check, target))
    assert main(["--data-root", "data", "--output-format", "json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == cold
    assert err.count("warning:") == 1 and "could not be read" in err, err
    main(["--data-root", "data", "--output-format", "json"])  # re-derived and stored again: quiet from now on
    assert "warning" not in capsys.readouterr().err
