"""The rule catalogue (rules/*.yaml) and the check registry match one to one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cogvid_lint.catalogue import builtin_rules_dir, load_rules
from cogvid_lint.errors import ConfigError
from cogvid_lint.registry import load_checks

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"


def test_catalogue_and_registry_match_one_to_one():
    rules = load_rules(builtin_rules_dir())
    keys = [rule.check for rule in rules if rule.check]
    assert len(keys) == len(set(keys)), "two rules share a check key"
    assert set(keys) == set(load_checks())


def test_every_builtin_message_and_hint_names_only_what_is_filled(tmp_path):
    """With every check loaded, no built-in rule's message or hint names an argument its check
    does not declare nor a parameter (the engine refuses such a rule at activation)."""
    from cogvid_lint.catalogue import unfilled_placeholders
    from cogvid_lint.engine import activate
    from cogvid_lint.registry import message_args
    from cogvid_lint.settings import CliOptions, resolve_settings

    rules = load_rules(builtin_rules_dir())
    checks = load_checks()
    assert [line for rule in rules for line in unfilled_placeholders(rule, message_args(checks[rule.check]))] == []
    settings = resolve_settings(CliOptions(paths=(str(tmp_path),)), cwd=tmp_path)
    assert len(activate(rules, settings)) == len(rules)  # no ConfigError


def test_every_rule_documents_all_four_sections():
    for rule in load_rules(RULES_DIR):
        for section in ("what", "why", "example", "fix"):
            assert len(getattr(rule.docs, section).strip()) > 20, (rule.code, section)
        assert rule.summary and rule.message


def test_codes_and_names_are_the_contract():
    codes = {rule.code: rule.name for rule in load_rules(RULES_DIR)}
    expected = {
        "CVL001": "missing-manifest", "CVL002": "count-mismatch", "CVL003": "missing-media",
        "CVL004": "path-escapes-root", "CVL005": "blank-caption-line", "CVL006": "duplicate-stem",
        "CVL007": "duplicate-clip", "CVL008": "dataset-too-small", "CVL009": "id-token-missing",
        "CVL101": "unreadable-video", "CVL102": "too-few-frames", "CVL103": "padded-short-video",
        "CVL104": "dropped-frames", "CVL105": "aspect-mismatch", "CVL106": "upscaled-video",
        "CVL107": "speed-mismatch", "CVL108": "variable-frame-rate", "CVL109": "missing-fps",
        "CVL110": "frame-count-header-mismatch", "CVL201": "invalid-frame-count",
        "CVL202": "unsupported-resolution", "CVL203": "i2v-first-frame-fallback", "CVL204": "unknown-model",
    }
    for code, name in expected.items():
        assert codes.get(code) == name


def test_broken_rule_files_are_all_reported_one_line_each(tmp_path):
    (tmp_path / "X001-a.yaml").write_text("code: X001\nname: a\ntarget: video\n")
    (tmp_path / "X002-b.yaml").write_text("code: X002\nname: b\ntarget: nowhere\nseverity: loud\n"
                                          "check: k\nmessage: m\nsummary: s\nbogus: 1\n"
                                          "docs: {what: w, why: y, example: e, fix: f}\n")
    (tmp_path / "X003-c.yaml").write_text("code: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_rules(tmp_path, user=True)
    lines = info.value.lines
    assert all("\n" not in line for line in lines)
    assert any("X001-a.yaml" in line and "'severity'" in line for line in lines)
    assert any("X002-b.yaml" in line and "'target'" in line for line in lines)
    assert any("X002-b.yaml" in line and "'bogus'" in line and "unknown key" in line for line in lines)
    assert any("X003-c.yaml" in line for line in lines)


def test_rule_files_are_named_after_code_and_name():
    for path in RULES_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert path.stem == f"{data['code']}-{data['name']}"


@pytest.mark.parametrize("target", ["dataset", "video", "training", "cache", "python"])
def test_each_target_loads_the_checks_its_rules_name(target):
    """A run imports only its targets' check modules (registry.MODULES_BY_TARGET): in a fresh
    interpreter, loading one target must register every check its rules name."""
    import json
    import subprocess
    import sys

    script = ("import json, sys\nfrom cogvid_lint.registry import load_checks\n"
              f"print(json.dumps(sorted(load_checks([{target!r}]))))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    registered = set(json.loads(proc.stdout))
    needed = {rule.check for rule in load_rules(builtin_rules_dir()) if rule.target == target and rule.check}
    assert needed and needed <= registered
