"""`--output-format junit`: JUnit XML, one testsuite per file, one failing testcase per finding.

Files are the CI locations (a clip's finding belongs to the videos.txt that lists it). A
clean run is one passing testcase, so dashboards show a green test rather than none.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby

from cogvid_lint.report import ci
from cogvid_lint.report.result import RunResult

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0 at all


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def render(result: RunResult) -> str:
    placed = sorted(((ci.project_path(result, ci.primary(d).path), ci.primary(d).line or 0, i, d)
                     for i, d in enumerate(result.diagnostics)), key=lambda item: item[:3])
    total = len(placed)
    root = ET.Element("testsuites", name="cogvid-lint", tests=str(max(total, 1)), failures=str(total), errors="0")
    if not placed:
        suite = ET.SubElement(root, "testsuite", name="cogvid-lint", tests="1", failures="0", errors="0",
                              skipped="0")
        ET.SubElement(suite, "testcase", name="no findings", classname="cogvid-lint")
    for path, group in groupby(placed, key=lambda item: item[0]):
        group = list(group)
        suite = ET.SubElement(root, "testsuite", name=_text(path), tests=str(len(group)),
                              failures=str(len(group)), errors="0", skipped="0")
        for _, line, _, d in group:
            where = f"{path}:{line}" if line else path
            case = ET.SubElement(suite, "testcase", name=_text(f"{d.code} {d.name} at {where}"),
                                 classname=_text(path), file=_text(path))
            if line:
                case.set("line", str(line))
            message = _text(ci.message(result, d))
            failure = ET.SubElement(case, "failure", message=message, type=f"{d.code} {d.name}")
            failure.text = f"{d.severity.value}: {_text(where)}: {d.code} [{d.name}] {message}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
