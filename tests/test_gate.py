"""Issue 16 ("A gate that cannot be fooled"), items 1, 4, 5, 6: each through the installed
command (COGVID_LINT), in a project made in a temporary folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import COGVID_LINT, build_project

BAD_SCRIPT = 'import decord\nimport torch\n\nif __name__ == "__main__":\n    print(decord, torch)\n'
LAUNCH = ('accelerate launch train.py --model_name cogvideox-t2v --data_root ../data \\\n'
          '    --train_resolution 9x480x720\n')


def run(cwd: Path, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([COGVID_LINT, *argv], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})})


def findings(proc: subprocess.CompletedProcess) -> list[dict]:
    return json.loads(proc.stdout)["diagnostics"]


@pytest.fixture
def demo(tmp_path) -> Path:
    """A dataset with two list errors (a missing clip, a 12-frame clip), a launch script that
    trains at 9 frames, and a script importing decord before torch."""
    return build_project(tmp_path, files={
        "data/prompts.txt": "a\nb\n",
        "data/videos.txt": "v/a.mp4\nv/missing.mp4\n",
        "finetune/train.sh": LAUNCH,
        "finetune/loader.py": BAD_SCRIPT,
    }, clips={"data/v/a.mp4": {"frames": 12, "fps": 8, "width": 96, "height": 64},
              "data/v/wide.mp4": {"frames": 12, "fps": 8, "width": 128, "height": 72}})


# ---- item 1: no false green ----------------------------------------------------------------

@pytest.mark.parametrize(("argv", "says"), [
    (["check", "does-not-exist"], "does-not-exist: no such file or directory"),
    (["check", "data/mystlye"], "data/mystlye: no such file or directory (did you mean data/mystyle?)"),
    (["data/mystlye"], "data/mystlye: no such file or directory (did you mean data/mystyle?)"),
    (["chek", "."], "'chek' is neither a command"),
    (["does-not-exist"], "'does-not-exist' is neither a command"),
])
def test_a_missing_path_or_mistyped_command_is_a_usage_error(tmp_path, argv, says):
    build_project(tmp_path, files={"data/mystyle/videos.txt": "a.mp4\n", "data/mystyle/prompts.txt": "a\n"})
    proc = run(tmp_path, *argv)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and says in proc.stderr, proc.stderr
    if argv[0] == "chek":
        assert "(did you mean 'check'?)" in proc.stderr


def test_a_list_file_is_linted_as_its_dataset(demo):
    proc = run(demo, "data/videos.txt", "--output-format", "json")
    assert proc.returncode == 1, proc.stderr
    codes = {(d["code"], d["path"]) for d in findings(proc)}
    assert ("CVL003", "data/v/missing.mp4") in codes  # the list's error
    assert ("CVL104", "data/v/a.mp4") in codes  # 12 frames at the launch script's 9: its settings
    assert not any(code == "CVL401" for code, _ in codes)  # no code rules: no Python file given


def test_a_clip_is_linted_alone_with_the_settings_in_force(demo):
    proc = run(demo, "data/v/a.mp4", "--output-format", "json")
    found = findings(proc)
    assert {d["path"] for d in found} == {"data/v/a.mp4"}, found  # no CVL003/CVL008 of the dataset
    # the launch script's 9 frames: 12 frames drop 3 (at the default 49 they would be padded)
    assert {d["code"] for d in found} >= {"CVL104"} and "CVL103" not in {d["code"] for d in found}
    # an unlisted clip is linted as the trainer would see it
    proc = run(demo, "data/v/wide.mp4", "--output-format", "json")
    assert {(d["code"], d["path"]) for d in findings(proc)} >= {("CVL105", "data/v/wide.mp4")}


def test_a_python_file_gets_the_code_rules_only(demo):
    proc = run(demo, "finetune/loader.py", "--output-format", "json")
    assert proc.returncode == 1
    assert {(d["code"], d["path"]) for d in findings(proc)} == {("CVL401", "finetune/loader.py")}


def test_another_file_is_a_usage_error(demo):
    (demo / "notes.md").write_text("hi\n", encoding="utf-8")
    proc = run(demo, "check", "notes.md")
    assert proc.returncode == 2 and "notes.md: not a folder, list file" in proc.stderr


# ---- item 4: outputs a CI system and a person can rely on -----------------------------------

def test_json_keeps_the_list_line_of_a_clip_finding(demo):
    found = findings(run(demo, "--output-format", "json"))
    missing = next(d for d in found if d["code"] == "CVL003")
    assert missing["line"] is None and missing["listed_at"] == {"path": "data/videos.txt", "line": 2}
    lines = run(demo, "--output-format", "json-lines").stdout.splitlines()
    assert any(json.loads(line)["listed_at"] == {"path": "data/videos.txt", "line": 2} for line in lines)


@pytest.mark.parametrize("fmt", ["full", "concise", "json", "sarif", "github", "gitlab", "junit"])
def test_paths_are_relative_from_a_subfolder(demo, fmt):
    (demo / "cogvid-lint.yaml").write_text("model: cogvideox-i2v\n", encoding="utf-8")  # CVL203's folder
    proc = run(demo / "finetune", "..", "--output-format", fmt)
    assert proc.returncode == 1, proc.stderr
    assert str(demo) not in proc.stdout, proc.stdout
    assert "data/videos.txt" in proc.stdout and "../data" not in proc.stdout
    if fmt == "concise":
        assert "the trainer extracts each clip's first frame to data/first_frames" in proc.stdout


def test_full_output_wraps_to_the_terminal_width(demo):
    proc = run(demo, env={"COLUMNS": "72"})
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 72, [line for line in lines if len(line) > 72]
    assert any(line.startswith(" " * 17) and not line.strip().startswith(("why:", "hint:", "fix:"))
               for line in lines)  # a message wrapped under its text
    wide = run(demo, env={"COLUMNS": "400"}).stdout
    assert max(len(line) for line in wide.splitlines()) > 72


def test_quiet_prints_the_findings_only(demo):
    proc = run(demo, "-q")
    assert proc.returncode == 1 and "CVL003" in proc.stdout
    for table in ("Findings by rule", "Settings and where they came from", "Found "):
        assert table not in proc.stdout


def test_statistics_alone_and_star_only_for_safe_fixes(demo):
    (demo / "data" / "videos.txt").write_text("v/a.mp4\nv/wide.mp4\n", encoding="utf-8")
    proc = run(demo, "--statistics")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines and all(re.fullmatch(r"\s*\d+\tCVL\d{3}\t\[[* ]\] [a-z0-9-]+", line) for line in lines), lines
    assert any(line.endswith("[*] decord-before-torch") for line in lines)  # a safe fix
    assert any(line.endswith("[ ] aspect-mismatch") for line in lines)  # unsafe: not for plain --fix


@pytest.mark.parametrize(("argv", "code"), [(["rules"], 0), (["rule", "CVL101"], 0), (["check", "--select", "CVL003"], 1)])
def test_a_closed_pipe_ends_quietly(demo, argv, code):
    proc = subprocess.Popen([COGVID_LINT, *argv], cwd=demo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written (`| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == code and err == "", err


def test_check_help_explains_every_flag():
    proc = subprocess.run([COGVID_LINT, "check", "--help"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0
    for choice in ("cogvideox1.5-i2v", "cogvideox-5b", "concise", "json-lines", "sarif", "gitlab", "junit"):
        assert choice in proc.stdout
    from cogvid_lint.cli import build_parser

    check = build_parser()._subparsers._group_actions[0].choices["check"]
    unexplained = [a.option_strings or a.dest for a in check._actions if not a.help]
    assert not unexplained


@pytest.mark.parametrize(("argv", "says"), [
    (["--ouput-format", "json"], "unrecognized argument: --ouput-format (did you mean --output-format?)"),
    (["check", "--exit-zro"], "(did you mean --exit-zero?)"),
    (["rules", "--ouput-format", "json"], "(did you mean --output-format?)"),
    (["--model", "cogvideox-5c"], "unknown model 'cogvideox-5c' (did you mean cogvideox-5b?)"),
])
def test_a_bad_flag_gets_a_did_you_mean(demo, argv, says):
    proc = run(demo, *argv)
    assert proc.returncode == 2 and says in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_message_wording(demo):
    out = run(demo, "--output-format", "full").stdout
    assert "hint: Use clips of at least 9 frames, or lower the frame count (9)" not in out  # 12 >= 9
    build_project(demo, files={"data/videos.txt": "v/short.mp4\n", "data/prompts.txt": "a\n"},
                  clips={"data/v/short.mp4": {"frames": 5, "fps": 30, "width": 96, "height": 64}})
    out = run(demo, "--output-format", "full").stdout
    assert "hint: Use clips of at least 9 frames, or lower the frame count (9) in --train_resolution" in out
    assert "30 fps sampled frame by frame = 30 fps" in out and "every 1 frames" not in out


def test_yaml_errors_name_the_file_and_line(tmp_path):
    (tmp_path / "cogvid-lint.yaml").write_text("model: [a\n", encoding="utf-8")
    proc = run(tmp_path)
    assert proc.returncode == 2 and "<unicode string>" not in proc.stderr
    assert "cogvid-lint.yaml: invalid YAML: line 2, column 1: did not find expected ',' or ']'" in proc.stderr


# ---- item 5: errors blamed where they are ----------------------------------------------------

def test_an_unknown_selector_is_blamed_on_the_command_line(demo):
    (demo / "cogvid-lint.yaml").write_text("ignore: [CVL106, CVL99x]\n", encoding="utf-8")
    proc = run(demo, "--ignore", "FOO")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert "cogvid-lint: error: command line: --ignore: unknown rule selector 'FOO'" in lines
    config = [line for line in lines if "CVL99x" in line]
    assert config and "cogvid-lint.yaml: key 'ignore'" in config[0] and "FOO" not in config[0]


@pytest.mark.parametrize("config", ["model: cogvideox-5c\n",
                                    "data-root:\n  - path: data\n    model: cogvideox-5c\n"])
def test_an_unknown_model_in_the_config_is_a_config_error(demo, config):
    (demo / "cogvid-lint.yaml").write_text(config, encoding="utf-8")
    proc = run(demo, "--output-format", "json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "cogvid-lint.yaml" in proc.stderr and "key 'model': unknown model 'cogvideox-5c'" in proc.stderr
    assert "did you mean cogvideox-5b?" in proc.stderr


# ---- item 6: user rules are first-class --------------------------------------------------------

USER_RULE = (
    "code: CODE\nname: NAME\ntarget: video\nseverity: warning\n"
    "when:\n  - {field: duration_s, op: '>', param: max_seconds}\n"
    "params:\n  max_seconds: {type: float, default: 1.0, description: Longest clip we keep.}\n"
    "message: '{duration_s} s is longer than {max_seconds} s'\nsummary: Long clips waste frames.\n"
    "docs: {what: Reports long clips., why: w, example: e, fix: f}\n")


def test_rule_and_rules_show_user_rules(tmp_path):
    build_project(tmp_path, files={"cogvid-lint.yaml": "rules-dir: team-rules\n",
                                   "team-rules/long.yaml": USER_RULE.replace("CODE", "TEAM001")
                                   .replace("NAME", "clip-too-long")})
    proc = run(tmp_path, "rule", "TEAM001")
    assert proc.returncode == 0 and "# clip-too-long (TEAM001)" in proc.stdout and "Reports long clips." in proc.stdout
    assert run(tmp_path, "rule", "clip-too-long").returncode == 0
    listed = run(tmp_path, "rules").stdout.splitlines()
    assert any(line.startswith("TEAM001  clip-too-long") for line in listed)
    assert any(r["code"] == "TEAM001" for r in json.loads(run(tmp_path, "rules", "--output-format", "json").stdout))
    (tmp_path / "sub").mkdir()  # the config is found from a subfolder too, as `check` finds it
    assert run(tmp_path / "sub", "rule", "TEAM001").returncode == 0


def test_a_taken_code_says_the_code_is_taken(tmp_path):
    build_project(tmp_path, files={"cogvid-lint.yaml": "rules-dir: team-rules\n",
                                   "team-rules/long.yaml": USER_RULE.replace("CODE", "CVL101")
                                   .replace("NAME", "clip-too-long")})
    proc = run(tmp_path)
    assert proc.returncode == 2
    assert "rule CVL101: key 'code': the code CVL101 is taken by the built-in rule unreadable-video" in proc.stderr
    assert "name" not in proc.stderr.split("taken")[0].split("rule CVL101")[-1]
