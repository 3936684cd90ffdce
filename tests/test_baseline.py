"""Suppressions (per-path-ignores, # noqa) and baselines (--write-baseline / --baseline)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import COGVID_LINT
from clips import make_clip
from cogvid_lint.cli import main

SHORT_CLIP = Path(__file__).resolve().parent / "fixtures" / "formats" / "short.mp4"
BAD_SCRIPT = 'import decord\nimport torch\n\nif __name__ == "__main__":\n    print(decord, torch)\n'
GOOD_SCRIPT = 'import torch\nimport decord\n\nif __name__ == "__main__":\n    print(decord, torch)\n'


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """A project with a config, a dataset (one short clip, a blank caption line) and a bad script."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "proj"
    files = {
        "cogvid-lint.yaml": "data-root: data\nrules:\n  CVL008:\n    params: {min_videos_other: 1}\n",
        "data/prompts.txt": "a fox\n\na cat\n",
        "data/videos.txt": "videos/short.mp4\nvideos/other.mp4\n",
        "train.py": BAD_SCRIPT,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "data/videos").mkdir()
    shutil.copyfile(SHORT_CLIP, root / "data/videos/short.mp4")
    make_clip(root / "data/videos/other.mp4", 64, 64, 12, fps=30)  # distinct content: no duplicate-clip
    return root


def lint(capsys, *argv: str) -> tuple[int, list[dict], str]:
    capsys.readouterr()
    code = main([*argv, "--output-format", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)["diagnostics"], captured.err


def keys(diagnostics: list[dict]) -> set[tuple[str, str]]:
    return {(d["code"], d["path"]) for d in diagnostics}


# ---- suppressions --------------------------------------------------------------------------

def test_per_path_ignores_are_relative_to_the_config_folder_for_clips_and_files(proj, capsys):
    _, before, _ = lint(capsys, "proj")
    assert ("CVL102", "proj/data/videos/short.mp4") in keys(before)
    assert ("CVL401", "proj/train.py") in keys(before)
    config = proj / "cogvid-lint.yaml"
    config.write_text(config.read_text() + "per-path-ignores:\n"
                      "  data/videos/short.mp4: [CVL1]\n"     # a clip, by its own path
                      "  'train.py': [decord-before-torch]\n"  # a file, by rule name
                      "  data/*.txt: [CVL005]\n", encoding="utf-8")
    _, after, _ = lint(capsys, "proj")  # run from the config's parent: globs must not be cwd-relative
    got = keys(after)
    assert not any(code.startswith("CVL1") and path.endswith("short.mp4") for code, path in got)
    assert ("CVL102", "proj/data/videos/other.mp4") in got  # the other clip still reported
    assert ("CVL401", "proj/train.py") not in got
    assert not any(code == "CVL005" for code, _ in got)


def test_per_path_ignores_match_a_clip_through_its_videos_txt_line(proj, capsys):
    config = proj / "cogvid-lint.yaml"
    config.write_text(config.read_text() + "per-path-ignores:\n  data/videos.txt: [CVL102]\n", encoding="utf-8")
    _, after, _ = lint(capsys, "proj")
    assert not any(d["code"] == "CVL102" for d in after)
    assert any(d["code"] == "CVL103" for d in after)


def test_per_path_ignores_glob_is_not_relative_to_the_cwd(proj, capsys, monkeypatch):
    config = proj / "cogvid-lint.yaml"
    config.write_text(config.read_text() + "per-path-ignores:\n  proj/train.py: [CVL401]\n", encoding="utf-8")
    _, after, _ = lint(capsys, "proj")  # `proj/train.py` from the config folder names nothing
    assert ("CVL401", "proj/train.py") in keys(after)


@pytest.mark.parametrize("comment, suppressed", [
    ("  # noqa", True),
    ("  # noqa: CVL401", True),
    ("  # noqa: CVL402, CVL401", True),
    ("  # cogvid-lint: ignore[CVL401]", True),
    ("  # noqa: CVL402", False),
    ("", False),
])
def test_noqa_through_main(tmp_path, monkeypatch, capsys, comment, suppressed):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(BAD_SCRIPT.replace("import decord\n", f"import decord{comment}\n", 1),
                                       encoding="utf-8")
    code, diagnostics, _ = lint(capsys, "--select", "CVL4", "train.py")
    assert any(d["code"] == "CVL401" for d in diagnostics) is not suppressed
    assert code == (0 if suppressed else 1)


def test_noqa_in_a_string_does_not_count(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text('import decord; X = "# noqa"\n' + BAD_SCRIPT.split("\n", 1)[1])
    _, diagnostics, _ = lint(capsys, "--select", "CVL4", "train.py")
    assert [d["code"] for d in diagnostics] == ["CVL401"]


# ---- baseline --------------------------------------------------------------------------------

def write_baseline(capsys, proj: Path) -> Path:
    path = proj / "baseline.json"
    capsys.readouterr()
    assert main(["proj", "--write-baseline", str(path)]) == 0
    err = capsys.readouterr().err
    assert "to the baseline" in err
    return path


def test_baseline_file_is_json_without_line_numbers(proj, capsys):
    _, current, _ = lint(capsys, "proj")
    path = write_baseline(capsys, proj)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1 and len(data["findings"]) == len(current)
    for row in data["findings"]:
        assert set(row) == {"code", "path", "fingerprint", "message"}
        assert not row["path"].startswith(("/", "proj/"))  # relative to the project root
    by_code = {row["code"]: row for row in data["findings"]}
    assert by_code["CVL102"]["fingerprint"].startswith("file:2944:")  # size + blake2b of the clip
    assert by_code["CVL005"]["fingerprint"].startswith("line:")
    assert by_code["CVL401"]["path"] == "train.py"
    assert not [p for p in proj.iterdir() if p.name.startswith(".cogvid-lint-tmp-")]  # atomic write, no leftovers


def test_baseline_hides_known_findings_and_survives_lines_inserted_above(proj, capsys):
    baseline = write_baseline(capsys, proj)
    code, diagnostics, err = lint(capsys, "proj", "--baseline", str(baseline))
    assert (code, diagnostics) == (0, [])
    assert "0 entries no longer match (fixed)" in err
    # lines inserted above the findings, and the clip list reordered (with its captions)
    train = proj / "train.py"
    train.write_text('"""Training entry point."""\n# a comment\n\n' + train.read_text(), encoding="utf-8")
    (proj / "data/videos.txt").write_text("videos/other.mp4\nvideos/short.mp4\n", encoding="utf-8")
    (proj / "data/prompts.txt").write_text("\na cat\na fox\n", encoding="utf-8")
    _, moved, _ = lint(capsys, "proj")
    assert any(d["code"] == "CVL401" and d["line"] == 4 for d in moved)  # the finding did move
    code, diagnostics, err = lint(capsys, "proj", "--baseline", str(baseline))
    assert (code, diagnostics) == (0, [])


def test_baseline_catches_a_new_finding(proj, capsys):
    baseline = write_baseline(capsys, proj)
    (proj / "tools").mkdir()
    (proj / "tools/export.py").write_text(BAD_SCRIPT, encoding="utf-8")  # same code, new file
    (proj / "data/prompts.txt").write_text("a fox\n\n\na cat\n", encoding="utf-8")  # a second blank line
    code, diagnostics, _ = lint(capsys, "proj", "--baseline", str(baseline))
    assert code == 1
    assert sorted((d["code"], d["path"], d["line"]) for d in diagnostics) == [
        ("CVL005", "proj/data/prompts.txt", 3), ("CVL401", "proj/tools/export.py", 1)]


def test_baseline_counts_fixed_entries(proj, capsys):
    baseline = write_baseline(capsys, proj)
    (proj / "train.py").write_text(GOOD_SCRIPT, encoding="utf-8")
    code, diagnostics, err = lint(capsys, "proj", "--baseline", str(baseline))
    assert (code, diagnostics) == (0, [])
    assert "1 entry no longer match (fixed)" in err and "--write-baseline" in err
    # a human format prints the same as a note line
    capsys.readouterr()
    assert main(["proj", "--baseline", str(baseline), "--output-format", "concise"]) == 0
    out = capsys.readouterr().out
    assert "1 entry no longer match (fixed)" in out


def test_a_changed_clip_is_a_new_finding(proj, capsys):
    baseline = write_baseline(capsys, proj)
    make_clip(proj / "data/videos/other.mp4", 64, 64, 14, fps=30)  # still too short, other content
    code, diagnostics, err = lint(capsys, "proj", "--baseline", str(baseline))
    assert code == 1 and {d["path"] for d in diagnostics} == {"proj/data/videos/other.mp4"}
    assert f"{len(diagnostics)} entries no longer match (fixed)" in err


def test_a_partial_run_does_not_call_the_rest_fixed(proj, capsys):
    baseline = write_baseline(capsys, proj)
    code, diagnostics, err = lint(capsys, "--select", "CVL4", "proj/train.py", "--baseline", str(baseline))
    assert (code, diagnostics) == (0, [])
    assert "1 known finding hidden; 0 entries no longer match" in err


@pytest.mark.parametrize("content, needle", [
    (None, "baseline file not found"),
    ("{not json", "cannot read baseline"),
    ('{"version": 7, "findings": []}', "not a cogvid-lint baseline"),
    ('{"version": 1, "findings": [{"code": "CVL102"}]}', "key 'findings.0'"),
])
def test_a_bad_baseline_is_one_line_exit_2(proj, capsys, content, needle):
    path = proj / "baseline.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    capsys.readouterr()
    assert main(["proj", "--baseline", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and str(path) in err


def test_installed_command_writes_and_uses_a_baseline(proj):
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([COGVID_LINT, *argv], cwd=proj, env=env, capture_output=True, text=True,
                              timeout=120)

    first = run("--write-baseline", ".cogvid-lint-baseline.json")
    assert first.returncode == 0 and "Traceback" not in first.stderr
    second = run("--baseline", ".cogvid-lint-baseline.json", "--output-format", "github")
    assert second.returncode == 0 and "::" not in second.stdout
    assert "entries no longer match (fixed)" in second.stderr


def test_per_path_ignores_under_a_folder_with_glob_characters(tmp_path, monkeypatch, capsys):
    """The config folder's own name is literal: `[x]` in it must not turn into a character class."""
    import json

    from cogvid_lint.cli import main

    root = tmp_path / "proj[1]"
    (root / "data").mkdir(parents=True)
    (root / "data" / "prompts.txt").write_text("a\n\nb\n")
    (root / "data" / "videos.txt").write_text("v/a.mp4\nv/b.mp4\n")
    (root / "cogvid-lint.yaml").write_text('data-root: data\nper-path-ignores:\n  "data/*.txt": [CVL005]\n')
    monkeypatch.chdir(root)
    main(["--select", "CVL005", "--output-format", "json"])
    assert json.loads(capsys.readouterr().out)["diagnostics"] == []
