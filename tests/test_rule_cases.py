"""Table-driven pass/fail cases for every rule: tests/cases/<CODE>.yaml (sqlfluff style).

Each case builds a real project (text files and real clips) in a temporary folder, runs
`cogvid-lint --select <CODE> --output-format json`, and compares the (path, line) pairs
reported for that code with the case's `expect` list.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import build_project

CASES_DIR = Path(__file__).parent / "cases"


def _cases():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in spec["cases"]:
            yield pytest.param(spec["rule"], case, id=f"{spec['rule']}-{case['name']}")


@pytest.mark.parametrize(("code", "case"), list(_cases()))
def test_rule_case(code, case, tmp_path, monkeypatch, lint_json):
    monkeypatch.chdir(tmp_path)
    build_project(tmp_path, case.get("files"), case.get("clips"))
    for link, target in (case.get("symlinks") or {}).items():
        (tmp_path / link).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / link).symlink_to(target)
    args = [str(a) for a in case.get("args", [])]
    exit_code, report = lint_json(case.get("path", "."), "--select", code, *args)
    got = sorted((d["path"], d["line"]) for d in report["diagnostics"] if d["code"] == code)
    expected = sorted((e["path"], e.get("line")) for e in case.get("expect", []))
    assert got == expected, report["diagnostics"]
    assert {d["code"] for d in report["diagnostics"]} <= {code}
    for want in case.get("message_contains", []):
        assert any(want in d["message"] for d in report["diagnostics"]), (want, report["diagnostics"])
    severity_fails = any(d["severity"] in ("error", "warning") for d in report["diagnostics"])
    assert exit_code == (1 if severity_fails else 0)


def test_every_rule_has_cases():
    from cogvid_lint.engine import load_catalogue

    covered = {yaml.safe_load(p.read_text(encoding="utf-8"))["rule"] for p in CASES_DIR.glob("*.yaml")}
    builtin = {r.code for r in load_catalogue() if r.target in ("dataset", "video", "training")}
    missing = builtin - covered
    assert not missing, f"rules without table-driven cases: {sorted(missing)}"


def test_cases_have_pass_and_fail():
    for path in CASES_DIR.glob("*.yaml"):
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
        assert any(c.get("expect") for c in cases), f"{path.name}: no failing case"
        assert any(not c.get("expect") for c in cases), f"{path.name}: no passing case"
