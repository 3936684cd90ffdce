"""The bundled example project reports exactly what examples/demo-expected.txt lists."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from conftest import COGVID_LINT

from cogvid_lint.remembered import ENV_VAR

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"


def _expected() -> list[str]:
    lines = (DEMO.parent / "demo-expected.txt").read_text(encoding="utf-8").splitlines()
    return sorted(line for line in lines if line and not line.startswith("#"))


def test_example_findings_match_expectations(monkeypatch, capsys):
    from cogvid_lint.cli import main

    monkeypatch.chdir(DEMO)
    assert main(["--output-format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    got = sorted(f"{d['path']}{':%d' % d['line'] if d['line'] else ''}: {d['code']}" for d in report["diagnostics"])
    assert got == _expected()


def test_example_shows_every_rule_family():
    families = {line.split(": ")[1][:4] for line in _expected()}
    assert {"CVL0", "CVL1", "CVL2", "CVL3", "CVL4"} <= families


def test_example_full_report_from_the_installed_command():
    proc = subprocess.run([COGVID_LINT, "examples/demo"], cwd=DEMO.parents[1], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "NO_COLOR": "1",
                               ENV_VAR: os.environ[ENV_VAR]})  # the session's user cache, not ~/.cache
    assert proc.returncode == 1, proc.stderr
    assert "Findings by rule" in proc.stdout and "finetune/train_ddp_t2v.sh" in proc.stdout
    assert "Traceback" not in proc.stderr
