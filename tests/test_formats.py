"""The CI output formats: snapshots of one fixed project, SARIF against the official schema,
GitHub escaping and step summary, GitLab fingerprints, JUnit structure, json-lines.

Snapshots live in tests/snapshots/formats/; regenerate them with UPDATE_SNAPSHOTS=1.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from conftest import COGVID_LINT
from cogvid_lint import __version__
from cogvid_lint.cli import FORMAT_CHOICES, main
from cogvid_lint.findings import Diagnostic, Location, Severity
from cogvid_lint.report import FORMATS
from cogvid_lint.report.github import escape_data, escape_property
from cogvid_lint.report.github import render as github_render
from cogvid_lint.report.result import RunResult

TESTS = Path(__file__).resolve().parent
SNAPSHOTS = TESTS / "snapshots" / "formats"
SHORT_CLIP = TESTS / "fixtures" / "formats" / "short.mp4"  # checked in: generated clips differ byte-wise
SCHEMA_ENV = "COGVID_LINT_SARIF_SCHEMA"
CI_FORMATS = ("sarif", "github", "gitlab", "junit", "json-lines")

# One fixed project: every path relative, every file's bytes fixed.
PROJECT_FILES = {
    # the caption rules (CVL02x) are left out: new rules must not churn the format snapshots
    "cogvid-lint.yaml": "data-root: data\nignore: [CVL020, CVL021, CVL022]\n",
    "data/prompts.txt": "a red fox runs, 100% speed\n\na cat\na dog\n",
    "data/videos.txt": "videos/short.mp4\nvideos/broken.mp4\nvideos/missing.mp4\n",
    "data/videos/broken.mp4": "this is not a video\n",
    "train.py": 'import decord\nimport torch\n\nif __name__ == "__main__":\n    print(decord, torch)\n',
}


def sarif_schema() -> dict:
    """The official schema (OASIS SARIF 2.1.0), vendored beside the tests; $COGVID_LINT_SARIF_SCHEMA
    may name another copy."""
    override = os.environ.get(SCHEMA_ENV)
    path = Path(override) if override else TESTS / "sarif-schema-2.1.0.json"
    if not path.is_file():
        pytest.fail(f"SARIF schema not found at {path} (set {SCHEMA_ENV})")
    return json.loads(path.read_text(encoding="utf-8"))


def write_project(root: Path) -> Path:
    for rel, text in PROJECT_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    shutil.copyfile(SHORT_CLIP, root / "data/videos/short.mp4")
    return root


@pytest.fixture
def fixed_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return write_project(tmp_path)


def run(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


def normalized(fmt: str, text: str) -> str:
    """Leave out of the SARIF snapshot what belongs to others: the tool's version and the rule
    docs (test_sarif_content checks those against the catalogue)."""
    if fmt == "sarif":
        data = json.loads(text)
        driver = data["runs"][0]["tool"]["driver"]
        driver["version"] = "<version>"
        for rule in driver["rules"]:
            rule["shortDescription"]["text"] = "<summary>"
            rule["fullDescription"]["text"] = "<docs.what>"
            rule["help"] = {"text": "<rule docs>", "markdown": "<rule docs>"}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return text


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    assert "/tmp" not in text and str(Path.cwd()) not in text, "absolute paths leak into the output"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot (UPDATE_SNAPSHOTS=1)"


SUFFIX = {"sarif": "sarif.json", "github": "github.txt", "gitlab": "gitlab.json", "junit": "junit.xml",
          "json-lines": "json-lines.jsonl"}


@pytest.mark.parametrize("fmt", CI_FORMATS)
def test_format_matches_snapshot(fixed_project, capsys, fmt):
    code, out = run(capsys, "--output-format", fmt)
    assert code == 1
    assert_snapshot(SUFFIX[fmt], normalized(fmt, out))
    # deterministic: a second run prints the same bytes
    assert normalized(fmt, run(capsys, "--output-format", fmt)[1]) == normalized(fmt, out)


def test_format_choices_are_the_registered_formats():
    assert set(FORMAT_CHOICES) == set(FORMATS)


def test_sarif_validates_against_the_official_schema(fixed_project, capsys):
    _, out = run(capsys, "--output-format", "sarif")
    sarif = json.loads(out)
    validator = jsonschema.Draft4Validator(sarif_schema())
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(sarif)]
    assert errors == []
    # the validator really checks: an invalid level and a missing message are rejected
    broken = copy.deepcopy(sarif)
    broken["runs"][0]["results"][0]["level"] = "info"
    del broken["runs"][0]["results"][1]["message"]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_sarif_content(fixed_project, capsys):
    from cogvid_lint.engine import load_catalogue

    _, json_out = run(capsys, "--output-format", "json")
    fired = {d["code"] for d in json.loads(json_out)["diagnostics"]}
    _, out = run(capsys, "--output-format", "sarif")
    sarif_run = json.loads(out)["runs"][0]
    catalogue = {r.code: r for r in load_catalogue()}
    rules = sarif_run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(fired)  # every rule that fired, and only those
    assert sarif_run["tool"]["driver"]["version"] == __version__
    for rule in rules:
        spec = catalogue[rule["id"]]
        assert rule["shortDescription"]["text"] == spec.summary
        assert rule["fullDescription"]["text"] == spec.docs.what.strip()
        for section in ("## What it does", "## Why is this bad", "## Example", "## Fix"):
            assert section in rule["help"]["markdown"] and section in rule["help"]["text"]
    results = sarif_run["results"]
    assert {r["level"] for r in results} == {"error", "warning", "note"}
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "\\" not in uri
    ids = [r["partialFingerprints"]["cogvidLint/v1"] for r in results]
    assert len(set(ids)) == len(ids)
    # a clip finding points at the videos.txt line; the clip is in the message and related location
    short = [r for r in results if r["ruleId"] == "CVL102"]
    assert short, results
    loc = short[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "data/videos.txt" and loc["region"]["startLine"] == 1
    assert short[0]["message"]["text"].startswith("data/videos/short.mp4: ")
    related = short[0]["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert related == "data/videos/short.mp4"
    code_finding = next(r for r in results if r["ruleId"] == "CVL401")
    assert code_finding["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_sarif_uris_are_relative_to_the_project_root_not_the_cwd(fixed_project, capsys, monkeypatch):
    monkeypatch.chdir(fixed_project / "data")
    _, out = run(capsys, "..", "--output-format", "sarif")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(out)["runs"][0]["results"]}
    assert "data/videos.txt" in uris and "train.py" in uris


@pytest.mark.parametrize("text, data, prop", [
    ("plain", "plain", "plain"),
    ("100% done", "100%25 done", "100%25 done"),
    ("%0A stays literal", "%250A stays literal", "%250A stays literal"),
    ("line1\nline2\r\n", "line1%0Aline2%0D%0A", "line1%0Aline2%0D%0A"),
    ("a,b: c", "a,b: c", "a%2Cb%3A c"),
    ("C:\\data\\v,1.mp4", "C:\\data\\v,1.mp4", "C%3A\\data\\v%2C1.mp4"),
])
def test_github_escaping(text, data, prop):
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_github_command_escapes_file_title_and_message(tmp_path):
    weird = tmp_path / "my,data:set" / "prompts.txt"
    diagnostic = Diagnostic(code="CVL005", name="blank-caption-line", severity=Severity.INFO,
                            message="50% of\nthe lines", location=Location(weird, 3, 2))
    out = github_render(RunResult(diagnostics=[diagnostic], rules=[], cwd=tmp_path))
    first = out.splitlines()[0]
    assert first == ("::notice file=my%2Cdata%3Aset/prompts.txt,line=3,col=2,title=cogvid-lint (CVL005)"
                     "::50%25 of%0Athe lines [blank-caption-line]")


def test_github_is_chosen_in_actions_and_writes_the_step_summary(fixed_project, capsys, monkeypatch):
    summary = fixed_project / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out = run(capsys)
    assert code == 1 and out.startswith(("::error ", "::warning ", "::notice "))
    assert all(line.startswith("::") for line in out.splitlines()[:-1])
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")  # appended, not replaced
    assert_snapshot("github-summary.md", text.removeprefix("earlier step\n"))
    # an explicit format wins, and only the github format touches the summary
    code, out = run(capsys, "--output-format", "json")
    assert json.loads(out)["version"] == 1 and summary.read_text(encoding="utf-8") == text


def test_gitlab_fingerprints_are_unique_and_line_independent(fixed_project, capsys):
    (fixed_project / "data/prompts.txt").write_text("a\n\n\nb\n", encoding="utf-8")  # two identical findings
    _, out = run(capsys, "--output-format", "gitlab")
    issues = json.loads(out)
    prints = [i["fingerprint"] for i in issues]
    assert len(prints) == len(set(prints))
    assert {i["severity"] for i in issues} <= {"info", "minor", "major", "critical"}
    by_code = {i["check_name"]: i for i in issues}
    assert by_code["CVL102"]["severity"] == "critical" and by_code["CVL105"]["severity"] == "major"
    assert by_code["CVL106"]["severity"] == "info"
    assert by_code["CVL102"]["location"] == {"path": "data/videos.txt", "lines": {"begin": 1}}
    assert all(isinstance(i["location"]["lines"]["begin"], int) for i in issues)
    train = fixed_project / "train.py"
    train.write_text("# a comment\n\n" + train.read_text(encoding="utf-8"), encoding="utf-8")
    _, moved = run(capsys, "--output-format", "gitlab")
    before = {i["fingerprint"] for i in issues if i["check_name"] == "CVL401"}
    after = [i for i in json.loads(moved) if i["check_name"] == "CVL401"]
    assert after[0]["location"]["lines"]["begin"] == 3 and {i["fingerprint"] for i in after} == before


def test_junit_one_suite_per_file_one_failure_per_finding(fixed_project, capsys):
    _, json_out = run(capsys, "--output-format", "json")
    count = len(json.loads(json_out)["diagnostics"])
    _, out = run(capsys, "--output-format", "junit")
    root = ET.fromstring(out.encode("utf-8"))
    suites = root.findall("testsuite")
    names = [s.get("name") for s in suites]
    assert names == sorted(set(names)) and "data/videos.txt" in names and "train.py" in names
    cases = root.findall("testsuite/testcase")
    assert len(cases) == count == int(root.get("failures"))
    assert all(case.find("failure") is not None for case in cases)
    clip_case = next(c for c in cases if c.get("name").startswith("CVL102"))
    assert clip_case.get("classname") == "data/videos.txt" and clip_case.get("line") == "1"
    assert "data/videos/short.mp4" in clip_case.find("failure").get("message")


def test_junit_clean_run_is_one_passing_case(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.py").write_text("import torch\nimport decord\n", encoding="utf-8")
    code, out = run(capsys, "--select", "CVL4", "--output-format", "junit")
    root = ET.fromstring(out.encode("utf-8"))
    assert code == 0 and root.get("failures") == "0"
    assert [c.get("name") for c in root.iter("testcase")] == ["no findings"]


def test_clean_run_in_every_ci_format(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.py").write_text("import torch\nimport decord\n", encoding="utf-8")
    outputs = {fmt: run(capsys, "--select", "CVL4", "--output-format", fmt) for fmt in CI_FORMATS}
    assert {code for code, _ in outputs.values()} == {0}
    sarif = json.loads(outputs["sarif"][1])
    assert list(jsonschema.Draft4Validator(sarif_schema()).iter_errors(sarif)) == []
    assert sarif["runs"][0]["results"] == [] and sarif["runs"][0]["tool"]["driver"]["rules"] == []
    assert json.loads(outputs["gitlab"][1]) == [] and outputs["json-lines"][1] == ""
    assert outputs["github"][1] == "cogvid-lint: all checks passed.\n"


def test_json_lines_are_the_json_diagnostics(fixed_project, capsys):
    _, json_out = run(capsys, "--output-format", "json")
    _, lines_out = run(capsys, "--output-format", "json-lines")
    assert [json.loads(line) for line in lines_out.splitlines()] == json.loads(json_out)["diagnostics"]


def test_installed_command_writes_sarif_to_a_file(fixed_project):
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    proc = subprocess.run([COGVID_LINT, "--output-format", "sarif", "-o", "out.sarif"], cwd=fixed_project,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    sarif = json.loads((fixed_project / "out.sarif").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft4Validator(sarif_schema()).iter_errors(sarif)) == []
    proc = subprocess.run([COGVID_LINT, "--output-format", "github"], cwd=fixed_project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "::error file=data/videos.txt,line=1,title=cogvid-lint (CVL102)::" in proc.stdout


def test_output_file_that_is_a_fifo_is_written_through_not_replaced(fixed_project, capsys):
    """`-o /dev/null` must not replace the device: a FIFO stands in for it here."""
    import stat
    import threading

    fifo = fixed_project / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code = main(["--output-format", "json-lines", "-o", str(fifo)])
    reader.join(timeout=60)
    assert code == 1 and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [json.loads(line)["code"] for line in received[0].decode().splitlines()][0] == "CVL005"
