"""Message placeholders are checked (issue 14, item 6): each check declares the message
arguments it fills (registry.check(args=...)), and a rule whose message or hint names
anything else — neither filled by its check (or its conditions) nor one of its parameters —
is a configuration error at load: exit 2, one line naming the file, the rule and the name."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cogvid_lint.catalogue as catalogue
from cogvid_lint.catalogue import placeholders
from cogvid_lint.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMMAND = Path(sys.executable).parent / "cogvid-lint"

USER_RULE = (
    "code: TEAM001\nname: clip-too-long\ntarget: video\nseverity: warning\n"
    "when:\n  - {field: duration_s, op: '>', param: max_seconds}\n"
    "params:\n  max_seconds: {type: float, default: 1.0, description: Longest clip we keep.}\n"
    "message: MESSAGE\nhint: HINT\nsummary: Long clips waste frames.\n"
    "docs: {what: w, why: y, example: e, fix: f}\n")


def user_project(project, message: str, hint: str = "''") -> Path:
    return project(files={
        "cogvid-lint.yaml": "data-root: data\nrules-dir: team-rules\n",
        "team-rules/long.yaml": USER_RULE.replace("MESSAGE", message).replace("HINT", hint),
        "data/prompts.txt": "a\n", "data/videos.txt": "v/a.mp4\n"},
        clips={"data/v/a.mp4": {"frames": 24, "fps": 8}})


def error_lines(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(("template", "names"), [
    ("entry {entry!r} resolves outside the data root {root}", ["entry", "root"]),
    ("{clip.path} and {shape[0]}", ["clip", "shape"]),
    ("{x:>{width}}", ["x", "width"]),
    ("{} and {0}", ["", "0"]),
    ("{{literal}} braces", []),
])
def test_placeholders_are_the_names_before_any_attribute_or_index(template, names):
    assert placeholders(template) == names


@pytest.mark.parametrize("template", ["{unclosed", "stray }", "{x!z}"])
def test_a_malformed_format_string_is_refused(template):
    with pytest.raises(ValueError):
        placeholders(template)


def test_the_issue_scenario_cvl004_root_renamed_fails_at_load(tmp_path, monkeypatch, capsys):
    """A copy of the catalogue where CVL004's `{root}` became `{data_root}`: every CVL004 case
    still passed before; now the run stops at load."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "CVL004-path-escapes-root.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("{root}", "{data_root}"), encoding="utf-8")
    monkeypatch.setattr(catalogue, "BUILTIN_RULES_DIR", rules)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/videos.txt").write_text("../elsewhere.mp4\n", encoding="utf-8")
    assert main(["--data-root", "data"]) == 2
    assert error_lines(capsys) == [
        f"cogvid-lint: error: {path}: rule CVL004: key 'message': placeholder {{data_root}} is not filled "
        "by check 'dataset.path_escapes_root' (it fills: entry, root; parameters: none)"]


def test_a_user_rule_naming_an_unknown_field_fails_at_load(project, capsys):
    root = user_project(project, "'{durationz} s is longer than {max_seconds} s'")
    assert main([]) == 2
    assert error_lines(capsys) == [
        f"cogvid-lint: error: {root / 'team-rules/long.yaml'}: rule TEAM001: key 'message': placeholder "
        "{durationz} is not filled by its conditions (they fill: duration_s; parameters: max_seconds)"]


def test_an_unfilled_hint_and_a_malformed_message_are_refused_too(project, capsys):
    user_project(project, "'{duration_s} s'", hint="'Cut it below {max_secs} s.'")
    assert main([]) == 2
    [line] = error_lines(capsys)
    assert "long.yaml: rule TEAM001: key 'hint': placeholder {max_secs} is not filled" in line
    user_project(project, "'{duration_s s'")
    assert main([]) == 2
    [line] = error_lines(capsys)
    assert "long.yaml: rule TEAM001: key 'message': not a valid format string" in line


def test_the_installed_command_refuses_an_unfilled_placeholder(project):
    root = user_project(project, "'{durationz} s is longer than {max_seconds} s'")
    proc = subprocess.run([str(COMMAND)], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert str(root / "team-rules/long.yaml") in line and "placeholder {durationz}" in line
    assert proc.stdout == ""


def test_a_user_rule_fills_its_fields_and_parameters_in_message_and_hint(project, capsys, stamped):
    user_project(project, "'{duration_s} s is longer than {max_seconds} s'",
                 hint="'Cut it below {max_seconds} s ({{max_seconds}} in the rule).'")
    assert main(["--select", "TEAM001"]) == 1
    out = capsys.readouterr().out
    assert "3.0 s is longer than 1.0 s" in out
    assert "hint: Cut it below 1.0 s ({max_seconds} in the rule)." in out
    assert [finding.args for _, finding, _ in stamped] == [{"duration_s": 3.0}]


def test_every_check_fills_what_it_declares_on_the_demo(lint_json, stamped, monkeypatch):
    """The demo project trips rules of every target; lint_json holds each finding to its
    check's declaration (conftest.assert_declared_args)."""
    monkeypatch.chdir(ROOT / "examples/demo")
    code, report = lint_json(".", "--no-cache")
    assert code == 1
    assert len(stamped) == len(report["diagnostics"]) > 0  # the recorder saw every finding
    assert {rule.spec.target for rule, _, _ in stamped} == {"dataset", "video", "training", "cache", "python"}
