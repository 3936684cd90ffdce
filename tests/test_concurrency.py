"""Two runs at once on the same project, one of them fixing: neither crashes, nothing is
corrupted, and a third run afterwards is clean of tool errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cache_factory import write_latent
from clips import make_clip


def _start(root, *args):
    return subprocess.Popen([sys.executable, "-m", "cogvid_lint", *args], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})


def test_two_runs_at_once_one_fixing(tmp_path):
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    stems = [f"c{i}" for i in range(12)]
    for i, stem in enumerate(stems):
        make_clip(data / "videos" / f"{stem}.mp4", frames=5 + i)
    (data / "videos.txt").write_text("".join(f"videos/{s}.mp4\n" for s in stems))
    (data / "prompts.txt").write_text("".join(f"caption {s}\n" for s in stems))
    for stem in ("orphan1", "orphan2", "orphan3"):
        write_latent(data, stem)
    (tmp_path / "loader.py").write_text("import decord\nimport torch\n")
    for _ in range(3):
        fixer = _start(tmp_path, "--data-root", "data", "--fix", "--exit-zero-on-fix")
        reader = _start(tmp_path, "--data-root", "data", "--output-format", "json")
        (_, fixed_err), (read_out, read_err) = fixer.communicate(timeout=120), reader.communicate(timeout=120)
        for err in (fixed_err, read_err):
            assert "Traceback" not in err and "internal error" not in err, err
        assert fixer.returncode in (0, 1) and reader.returncode in (0, 1)
        json.loads(read_out)  # the reader's report is whole
    final = subprocess.run([sys.executable, "-m", "cogvid_lint", "--data-root", "data", "--output-format", "json"],
                           cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert final.stderr == "" or "warning" not in final.stderr.lower(), final.stderr
    report = json.loads(final.stdout)
    codes = {d["code"] for d in report["diagnostics"]}
    assert "CVL302" not in codes and "CVL401" not in codes  # the fixes landed
    assert (tmp_path / "loader.py").read_text().splitlines()[0] == "import torch"
    assert all((data / "videos" / f"{s}.mp4").stat().st_size > 0 for s in stems)  # no clip lost
