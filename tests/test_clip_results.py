"""Clean-clip verdicts in the store (clip_results): a clip the video rules found nothing on is
not checked again while its file, its probe facts, the rules and the dataset's settings hold;
anything else that changes makes the next run check it afresh, equal to a run with no store."""

from __future__ import annotations

import json
import sqlite3

from cogvid_lint.cli import main
from cogvid_lint.store import DB_NAME, DIR_NAME

CLIPS = {"data/videos/a.mp4": {"frames": 9, "width": 96, "height": 64},
         "data/videos/b.mp4": {"frames": 9, "width": 96, "height": 64},
         "data/videos/short.mp4": {"frames": 5, "width": 96, "height": 64}}
CONFIG = "data-root: data\nrules:\n  CVL102:\n    params:\n      min_frames: {}\n"
FILES = {"data/prompts.txt": "a cat walks on a wall\na dog runs on a beach\na bird flies over a lake\n",
         "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\nvideos/short.mp4\n",
         "cogvid-lint.yaml": CONFIG.format(4)}
ARGS = ["--data-root", "data", "--train-resolution", "9x64x96", "--select", "CVL1"]


def _run(capsys, *extra: str) -> list[tuple[str, str]]:
    capsys.readouterr()
    main([*ARGS, *extra, "--output-format", "json"])
    return sorted((d["path"], d["code"]) for d in json.loads(capsys.readouterr().out)["diagnostics"])


def _clean_rows(root) -> int:
    with sqlite3.connect(root / DIR_NAME / DB_NAME) as conn:
        return conn.execute("SELECT count(*) FROM clean_clips").fetchone()[0]


def test_clean_verdicts_are_stored_and_every_change_rechecks(project, capsys):
    root = project(FILES, CLIPS)
    cold = _run(capsys)
    assert ("data/videos/short.mp4", "CVL103") in cold
    assert _clean_rows(root) == 2  # a.mp4 and b.mp4; short.mp4 has findings
    assert _run(capsys) == cold == _run(capsys, "--no-cache")
    # a parameter that turns a clean clip into a finding
    (root / "cogvid-lint.yaml").write_text(CONFIG.format(20))
    changed = _run(capsys)
    assert ("data/videos/a.mp4", "CVL102") in changed and changed == _run(capsys, "--no-cache")
    (root / "cogvid-lint.yaml").write_text(CONFIG.format(4))
    # another training size, another trainer: the verdicts are the new ones
    for extra in (["--train-resolution", "17x64x96"], ["--trainer", "sat"]):
        assert _run(capsys, *extra) == _run(capsys, *extra, "--no-cache")
    # a rewritten clip
    from clips import make_clip

    make_clip(root / "data/videos/b.mp4", frames=5, width=96, height=64)
    after = _run(capsys)
    assert ("data/videos/b.mp4", "CVL103") in after and after == _run(capsys, "--no-cache")
