"""The command line contract: exit codes, JSON shape, rule docs, inspect, config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys


from conftest import COGVID_LINT
from cogvid_lint.cli import main

BAD = {
    "files": {"data/prompts.txt": "a\nb\n", "data/videos.txt": "v/a.mp4\nv/b.mp4\n"},
    "clips": {"data/v/a.mp4": {"frames": 12, "width": 96, "height": 64}},
}


def test_json_shape_and_exit_code(project, lint_json):
    project(**BAD)
    code, report = lint_json("--data-root", "data")
    assert code == 1
    assert set(report) == {"version", "diagnostics", "summary"} and report["version"] == 1
    assert set(report["summary"]) == {"error", "warning", "info"}
    first = report["diagnostics"][0]
    assert set(first) == {"code", "name", "severity", "path", "line", "column", "message", "fix", "listed_at"}
    missing = [d for d in report["diagnostics"] if d["code"] == "CVL003"]
    assert missing and missing[0]["path"] == "data/v/b.mp4"
    # a clip's finding keeps the list line that names it, as data (the other formats show it)
    assert missing[0]["line"] is None and missing[0]["listed_at"] == {"path": "data/videos.txt", "line": 2}
    assert all(d["listed_at"] is None for d in report["diagnostics"] if d["path"] == "data/videos.txt")
    assert report["summary"]["error"] == sum(d["severity"] == "error" for d in report["diagnostics"])


def test_fail_on_and_exit_zero(project, lint_json):
    project(files={"data/prompts.txt": "a\n", "data/videos.txt": "v/a.mp4\n"},
            clips={"data/v/a.mp4": {"frames": 60, "width": 96, "height": 64}})
    code, report = lint_json("--data-root", "data", "--select", "CVL104")  # info only
    assert report["diagnostics"] and code == 0
    code, _ = lint_json("--data-root", "data", "--select", "CVL104", "--fail-on", "info")
    assert code == 1
    code, _ = lint_json("--data-root", "data", "--select", "CVL104", "--fail-on", "info", "--exit-zero")
    assert code == 0


def test_select_ignore_by_prefix_and_name(project, lint_json):
    project(**BAD)
    _, report = lint_json("--data-root", "data", "--select", "CVL1", "--ignore", "too-few-frames")
    codes = {d["code"] for d in report["diagnostics"]}
    assert codes and all(c.startswith("CVL1") for c in codes) and "CVL102" not in codes
    _, report = lint_json("--data-root", "data", "--select", "CVL003", "--extend-select", "padded-short-video")
    assert {d["code"] for d in report["diagnostics"]} == {"CVL003", "CVL103"}


def test_unknown_selector_is_a_config_error(project, capsys):
    project(**BAD)
    assert main(["--data-root", "data", "--select", "CVL999"]) == 2
    err = capsys.readouterr().err
    assert "CVL999" in err and "Traceback" not in err


def test_bad_train_resolution_is_usage_error(project, capsys):
    project(**BAD)
    assert main(["--data-root", "data", "--train-resolution", "49x480"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "49x480" in err[0] and "train-resolution" in err[0]


def test_config_errors_collected_one_line_each(project, capsys):
    project(files={"cogvid-lint.yaml": "data-root: data\nmodle: x\npurpose: artsy\nrules:\n  CVL102:\n"
                   "    params: {min_frame: 3}\n"})
    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("'modle'" in line and "did you mean 'model'" in line for line in err)
    assert any("'purpose'" in line for line in err)
    assert all(line.startswith("cogvid-lint: error: ") and "cogvid-lint.yaml" in line for line in err)


def test_rule_params_errors_name_rule_and_key(project, capsys):
    project(files={"cogvid-lint.yaml": "data-root: data\nrules:\n  CVL102:\n    params: {min_frame: 3}\n"
                   "  CVL105:\n    params: {tolerance: wide}\n"})
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "CVL102" in err and "params.min_frame" in err and "min_frames" in err
    assert "CVL105" in err and "params.tolerance" in err


def test_yaml_python_tags_are_refused_not_run(project, capsys, tmp_path):
    marker = tmp_path / "pwned"
    project(files={"cogvid-lint.yaml": f"data-root: !!python/object/apply:os.system ['touch {marker}']\n"})
    assert main([]) == 2
    assert not marker.exists()
    assert "invalid YAML" in capsys.readouterr().err


def test_rule_docs(capsys):
    assert main(["rule", "CVL105"]) == 0
    out = capsys.readouterr().out
    for title in ("What it does", "Why is this bad", "Example", "Fix"):
        assert f"## {title}" in out
    assert main(["rule", "aspect-mismatch", "--output-format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["code"] == "CVL105"
    assert main(["rule", "aspect-mismach"]) == 2
    assert "did you mean aspect-mismatch" in capsys.readouterr().err


def test_rules_table(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "CVL001" in out and "CVL204" in out


def test_inspect_json(project, capsys):
    root = project(clips={"a.mp4": {"frames": 12, "width": 96, "height": 64, "rotation": 90}},
                   files={"bad.mp4": ""})
    assert main(["inspect", "a.mp4", "bad.mp4", "--json", "--train-resolution", "9x480x720"]) == 1
    records = json.loads(capsys.readouterr().out)
    keys = {"path", "frames", "header_frames", "width", "height", "rotation", "fps", "variable_frame_rate",
            "duration_s", "codec", "error"}
    assert all(keys <= set(r) for r in records)
    good, bad = records
    assert (good["frames"], good["width"], good["height"], good["rotation"]) == (12, 64, 96, 90)
    assert good["error"] is None and good["training"]["unseen_tail_frames"] == 3
    assert good["training"]["indices"] == list(range(9))
    assert bad["error"] == "zero bytes"
    assert main(["inspect", str(root / "a.mp4"), "--train-resolution", "9x480x720"]) == 0
    assert "3 never shown" in capsys.readouterr().out


def test_full_report_explains_and_shows_sources(project, capsys):
    project(**BAD)
    assert main(["--data-root", "data", "--model", "cogvideox-5b"]) == 1
    out = capsys.readouterr().out
    assert "data/v/b.mp4" in out and "CVL003" in out and "why:" in out
    assert "Findings by rule" in out and "Settings and where they came from" in out
    assert "command line" in out and "Found " in out


def test_clean_project_is_quiet_and_exits_zero(project, capsys):
    project(files={"data/prompts.txt": "a dog runs across a field\n", "data/videos.txt": "v/a.mp4\n"},
            clips={"data/v/a.mp4": {"frames": 9, "width": 96, "height": 64}})
    assert main(["--data-root", "data", "--train-resolution", "9x480x720", "--ignore", "CVL008,CVL102,CVL106",
                 "-q", "--output-format", "concise"]) == 0
    assert capsys.readouterr().out == ""


def test_concise_format(project, capsys):
    project(**BAD)
    main(["--data-root", "data", "--select", "CVL003", "--output-format", "concise"])
    assert capsys.readouterr().out.splitlines() == ["data/v/b.mp4: CVL003 [missing-media] listed clip not found"]


def test_installed_command_runs(project):
    project(**BAD)
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([COGVID_LINT, "--data-root", "data", "--output-format", "json"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["summary"]["error"] >= 1
    proc = subprocess.run([sys.executable, "-m", "cogvid_lint", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("cogvid-lint ")
