"""`--output-format sarif`: SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps).

Validates against the official OASIS schema (tests check it). `tool.driver.rules` holds
every rule that fired, with its docs; each result carries our own `partialFingerprints`
because the uploader cannot compute one for a clip or a git-ignored file.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from cogvid_lint import __version__
from cogvid_lint.catalogue import RuleSpec, rule_text  # the text `cogvid-lint rule CODE` prints
from cogvid_lint.findings import Location
from cogvid_lint.remote.urls import is_remote, to_url
from cogvid_lint.report import ci
from cogvid_lint.report.result import RunResult

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT_KEY = "cogvidLint/v1"


def render(result: RunResult) -> str:
    fired = sorted({d.code for d in result.diagnostics})
    specs = [spec for spec in (result.rule(code) for code in fired) if spec is not None]
    index = {spec.code: i for i, spec in enumerate(specs)}
    results = []
    for diagnostic, finding_id in zip(result.diagnostics, ci.finding_ids(result)):
        item: dict[str, Any] = {
            "ruleId": diagnostic.code,
            "level": LEVEL[diagnostic.severity.value],
            "message": {"text": ci.message(result, diagnostic)},
            "locations": [{"physicalLocation": _physical(result, ci.primary(diagnostic))}],
            "partialFingerprints": {FINGERPRINT_KEY: finding_id},
        }
        if diagnostic.code in index:
            item["ruleIndex"] = index[diagnostic.code]
        if diagnostic.anchor is not None and diagnostic.anchor.path != diagnostic.location.path:
            item["relatedLocations"] = [{"id": 1, "message": {"text": "the file this finding is about"},
                                         "physicalLocation": _physical(result, diagnostic.location)}]
        if diagnostic.fix is not None:
            item["properties"] = {"fix": {"applicability": diagnostic.fix.applicability.value,
                                          "title": diagnostic.fix.title}}
        results.append(item)
    run = {
        "tool": {"driver": {"name": "cogvid-lint", "version": __version__,
                            "rules": [_rule(spec) for spec in specs]}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    payload = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def _physical(result: RunResult, location: Location) -> dict[str, Any]:
    rel = ci.project_path(result, location.path)
    if is_remote(location.path):  # an object in a store: its URL is the artifact's URI
        artifact: dict[str, Any] = {"uri": to_url(location.path)}
    elif rel.startswith("/"):  # outside the project: an absolute file URI
        artifact: dict[str, Any] = {"uri": location.path.as_uri()}
    else:
        artifact = {"uri": quote(rel, safe="/"), "uriBaseId": "%SRCROOT%"}
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if location.line is not None:
        physical["region"] = {"startLine": location.line}
        if location.column is not None:
            physical["region"]["startColumn"] = location.column
    return physical


def _rule(spec: RuleSpec) -> dict[str, Any]:
    help_text = rule_text(spec)
    return {
        "id": spec.code,
        "name": spec.name,
        "shortDescription": {"text": spec.summary},
        "fullDescription": {"text": spec.docs.what.strip()},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": LEVEL[spec.severity.value]},
        "properties": {"tags": ["cogvid-lint", spec.target]},
    }
