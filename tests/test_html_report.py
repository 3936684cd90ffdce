"""`--output-format html`: one self-contained page of a run, opened in a real headless
Chromium (tests/browser.py): every image loads, the filters hide and show findings, no
request leaves the file. The thumbnail strips show the frames the trainer's sampler takes
(read back out of the JPEG: clips drawn with `pattern=True` carry their frame index), and
a warm run decodes nothing (the thumbnail decode and the content stage are swapped for
stand-ins that log each clip they decode: tests/content_standins.py).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser import browser_page, screenshot
from clips import make_clip, read_pattern
from conftest import COGVID_LINT, build_project

from cogvid_lint.probe import thumbs

TESTS = Path(__file__).parent
CAPTIONS = "".join(f"a small {w} clip of a test pattern for the report\n" for w in ("first", "second", "third"))


def _project(root: Path) -> Path:
    """Three clips SAT at 49x64x96 takes differently: too short (padded), a squashed aspect,
    and a rotated one; plus a launch script with a code finding."""
    return build_project(root, files={
        "data/videos.txt": "videos/short.mp4\nvideos/wide.mp4\nvideos/turned.mp4\n",
        "data/prompts.txt": CAPTIONS,
        "train.py": "import decord\nimport torch\n\nprint(torch, decord)\n",
    }, clips={
        "data/videos/short.mp4": dict(width=128, height=64, frames=30, fps=8, pattern=True),
        "data/videos/wide.mp4": dict(width=256, height=96, frames=120, fps=8, pattern=True),
        "data/videos/turned.mp4": dict(width=128, height=72, frames=60, fps=8, pattern=True, rotation=90),
    })


ARGS = ("--data-root", "data", "--trainer", "sat", "--train-resolution", "49x64x96")


def _lint(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(TESTS), **(env or {})}
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        if name not in (env or {}):
            full.pop(name, None)
    proc = subprocess.run([COGVID_LINT, *ARGS, *args], cwd=root, env=full, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc


def _report(root: Path, name: str = "report.html", *args: str, env: dict | None = None) -> str:
    proc = _lint(root, "--output-format", "html", "-o", name, *args, env=env)
    assert proc.returncode == 1, proc.stderr
    return (root / name).read_text(encoding="utf-8")


def _strips(text: str) -> dict[str, bytes]:
    data = json.loads(re.search(r'<script type="application/json" id="strips">(.*?)</script>', text, re.S)[1])
    return {key: base64.b64decode(uri.split(",", 1)[1]) for key, uri in data.items()}


class _Page(HTMLParser):
    """Every attribute of every element, the findings, and the strips each one shows."""

    def __init__(self):
        super().__init__()
        self.attributes: list[tuple[str, str, str]] = []
        self.findings: list[dict] = []
        self.styles: list[str] = []
        self._in_style = self._where = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.attributes += [(tag, k, v or "") for k, v in attrs.items()]
        classes = (attrs.get("class") or "").split()
        if tag == "div" and "f" in classes:
            self.findings.append({"classes": classes, "strip": None, "labels": [], "src": False})
        if tag == "img" and self.findings:
            self.findings[-1]["strip"] = attrs.get("data-strip")
            self.findings[-1]["size"] = (int(attrs["width"]), int(attrs["height"]))
        if tag == "figcaption" and self.findings:
            self.findings[-1]["labels"] = attrs["data-l"].split("|")
        if tag == "pre" and "src" in classes and self.findings:
            self.findings[-1]["src"] = True
        self._in_style = tag == "style"
        self._where = tag == "span" and "where" in classes

    def handle_endtag(self, tag):
        self._in_style = self._where = False

    def handle_data(self, data):
        if self._where and self.findings:
            self.findings[-1]["where"] = data
        if self._in_style:
            self.styles.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = _project(tmp_path_factory.mktemp("html"))
    inspected = {}
    for clip in ("short.mp4", "wide.mp4", "turned.mp4"):
        proc = subprocess.run([COGVID_LINT, "inspect", f"data/videos/{clip}", "--json", "--trainer", "sat",
                               "--train-resolution", "49x64x96"], cwd=root, capture_output=True, text=True)
        inspected[clip] = json.loads(proc.stdout)[0]
    return root, _report(root), inspected


def test_each_clip_finding_shows_the_frames_the_sampler_takes(made):
    root, text, inspected = made
    page = _parse(text)
    strips = _strips(text)
    clip_findings = [f for f in page.findings if f["strip"]]
    codes = {c for f in clip_findings for c in f["classes"] if c.startswith("r-")}
    assert {"r-CVL103", "r-CVL111"} <= codes  # padded (short.mp4), cropped (wide.mp4)
    by_strip: dict[str, list[dict]] = {}
    for finding in clip_findings:
        by_strip.setdefault(finding["strip"], []).append(finding)
    assert len(strips) == len(by_strip) == 3  # one strip per clip, however many findings show it
    for key, jpeg in strips.items():
        labels = by_strip[key][0]["labels"]
        width, height = by_strip[key][0]["size"]
        with Image.open(io.BytesIO(jpeg)) as image:
            pixels = np.asarray(image.convert("RGB"))
        assert pixels.shape[:2] == (height, width)
        shown = [int(label.split()[0][1:]) for label in labels]
        clip = by_strip[key][0]["where"].rsplit("/", 1)[1]
        assert all(f["where"] == by_strip[key][0]["where"] for f in by_strip[key])
        record = inspected[clip]
        training = record["training"]
        assert tuple(shown) == thumbs.choose(training["indices"], training["padded_frames"])
        taken = training["indices"][:len(training["indices"]) - training["padded_frames"]]
        assert shown[0] == taken[0] and shown[-1] == taken[-1] and set(shown) <= set(taken)
        assert len(shown) == min(thumbs.MOST, len(set(taken)))
        tile_w = width // len(shown)
        assert (tile_w, height) == thumbs.tile_size(record["width"], record["height"])
        assert labels == [f"#{i} {i / record['fps']:.2f}s" for i in shown]
        turns = 1 if record["rotation"] else 0
        for n, index in enumerate(shown):  # each tile shows the source frame its label names
            tile = pixels[:, n * tile_w:(n + 1) * tile_w]
            assert read_pattern(np.rot90(tile, k=turns) if turns else tile) == index, (clip, n, index)
    assert inspected["short.mp4"]["training"]["padded_frames"] == 28
    # code findings show their source lines
    code = [f for f in page.findings if "r-CVL401" in f["classes"]]
    assert code and all(f["src"] for f in code)


def test_nothing_in_the_page_points_outside_it(made):
    _, text, _ = made
    page = _parse(text)
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in text
    for tag, name, value in page.attributes:
        if name in ("src", "href", "srcset", "action", "poster", "data", "formaction", "xlink:href"):
            assert value.startswith(("#", "data:image/jpeg;base64,")) or value == "", (tag, name, value)
        assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
    for css in page.styles:
        assert "url(" not in css and "@import" not in css and "@font-face" not in css
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert "<link" not in text and "<iframe" not in text


def test_the_report_in_chromium(made):
    root, _, _ = made
    url = (root / "report.html").as_uri()
    with browser_page() as (page, requested):
        page.goto(url)
        page.wait_for_function("() => document.documentElement.dataset.ready === '1'")
        total = page.locator(".f").count()
        assert total > 5
        assert page.inner_text("#shown") == f"{total} of {total} findings shown"
        # every image loads once it nears the screen (lazily: they start without a src)
        loaded = page.evaluate("""async () => {
            const out = [];
            for (const img of document.images) {
                img.scrollIntoView();
                for (let i = 0; i < 200 && !(img.src && img.complete); i++) await new Promise(r => setTimeout(r, 10));
                if (img.src) await img.decode();
                out.push([img.dataset.strip, img.naturalWidth, img.naturalHeight]);
            }
            return out;
        }""")
        assert loaded and all(w > 0 and h > 0 for _, w, h in loaded), loaded
        # shown, each strip's labels stand under its tiles
        labels = page.evaluate("Array.from(document.querySelectorAll('figcaption')).map(c => c.children.length)")
        assert labels and all(n > 0 for n in labels)

        def visible(selector: str) -> list[bool]:
            return page.evaluate(f"Array.from(document.querySelectorAll({selector!r})).map(e => e.offsetParent !== null)")

        warnings = visible(".f.s-warning")
        assert warnings and all(warnings)
        page.uncheck('input[data-sev="warning"]')
        assert not any(visible(".f.s-warning")) and all(visible(".f.s-error"))
        shown = page.inner_text("#shown")
        assert shown == f"{total - len(warnings)} of {total} findings shown"
        page.check('input[data-sev="warning"]')
        assert all(visible(".f.s-warning"))
        page.uncheck('input[data-rule="CVL111"]')
        assert not any(visible(".r-CVL111")) and all(visible(".f.r-CVL103"))
        page.uncheck('input[data-sev="error"]')
        assert not any(visible(".f.s-error")) and not any(visible(".r-CVL111"))
        page.check('input[data-rule="CVL111"]')
        page.check('input[data-sev="error"]')
        assert all(visible(".f"))
        page.locator("figure").first.scroll_into_view_if_needed()
        page.evaluate("document.querySelectorAll('.f').forEach(e => e.style.contentVisibility = 'visible')")
        shot = screenshot(page, "html-report.png")
        assert shot.stat().st_size > 10_000
    # the page itself is the only request: images are data: URIs, nothing else is fetched
    assert requested == [url], requested


def test_a_warm_run_decodes_nothing(tmp_path):
    root = _project(tmp_path)
    log = tmp_path / "thumbs.log"
    env = {"COGVID_LINT_THUMBS_FN": "content_standins:logged_strip", "THUMBS_LOG": str(log)}
    first = _report(root, "a.html", env=env)
    assert sorted(log.read_text().split()) == ["short.mp4", "turned.mp4", "wide.mp4"]  # the clips with findings
    log.write_text("")
    second = _report(root, "b.html", env=env)
    assert log.read_text() == ""  # every strip came from the store
    assert second == first and len(_strips(second)) == 3
    # the same run with the code rules only has no clip finding: nothing to decode
    log.write_text("")
    _lint(root, "--select", "CVL401", "--output-format", "html", "-o", "c.html", env=env)
    assert log.read_text() == ""


def test_the_content_stage_makes_the_strips_from_its_own_decode(tmp_path):
    root = _project(tmp_path)
    thumbs_log, content_log = tmp_path / "thumbs.log", tmp_path / "content.log"
    env = {"COGVID_LINT_THUMBS_FN": "content_standins:logged_strip", "THUMBS_LOG": str(thumbs_log),
           "COGVID_LINT_CONTENT_FN": "content_standins:logged_misbehaving", "CONTENT_LOG": str(content_log)}
    first = _report(root, "a.html", "--extend-select", "CVL502", env=env)
    assert sorted(content_log.read_text().split()) == ["short.mp4", "turned.mp4", "wide.mp4"]
    assert not thumbs_log.exists() or thumbs_log.read_text() == ""  # no second decode for the report
    content_log.write_text("")
    second = _report(root, "b.html", "--extend-select", "CVL502", env=env)
    assert content_log.read_text() == "" and (not thumbs_log.exists() or thumbs_log.read_text() == "")
    assert second == first
    # the strips the content stage made are those the thumbnail decode makes
    plain = _report(_project(tmp_path / "again"), "c.html")
    assert _strips(plain) == _strips(first)


def test_github_summary_names_the_report_and_links_the_artifacts(tmp_path):
    root = _project(tmp_path)
    summary = tmp_path / "summary.md"
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_SERVER_URL": "https://github.com",
               "GITHUB_REPOSITORY": "me/proj", "GITHUB_RUN_ID": "42"}
    proc = _lint(root, "--html-report", "cogvid-lint-report.html", env=actions)
    assert proc.returncode == 1 and proc.stdout.startswith("::")  # the annotations, as before
    assert (root / "cogvid-lint-report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    text = summary.read_text(encoding="utf-8")
    assert ("The full report, with the frames the trainer takes of each clip: `cogvid-lint-report.html` "
            "([this run's artifacts](https://github.com/me/proj/actions/runs/42#artifacts)).") in text
    assert "| CVL111 |" in text
    # the html format itself, as the README's workflow runs it, says the same in the summary
    summary.write_text("")
    _report(root, "cogvid-lint-report.html", env=actions)
    assert "`cogvid-lint-report.html`" in summary.read_text(encoding="utf-8")
    # without an HTML report the summary is as it was
    summary.write_text("")
    _lint(root, env=actions)
    assert "full report" not in summary.read_text(encoding="utf-8")


def test_a_clip_that_does_not_decode_is_said_in_the_report(tmp_path):
    root = _project(tmp_path)
    env = {"COGVID_LINT_THUMBS_FN": "content_standins:logged_strip"}
    (root / "data/videos/SEGV.mp4").write_bytes((root / "data/videos/short.mp4").read_bytes())  # SAT walks videos/
    text = _report(root, "r.html", env=env)
    assert "no thumbnails: decoder crashed (SIGSEGV)" in text
    page = _parse(text)
    assert {f["where"] for f in page.findings if f["strip"]} == {f"data/videos/{n}.mp4" for n in ("short", "wide", "turned")}
    assert len(_strips(text)) == 3


def test_hostile_text_stays_text(tmp_path):
    """A clip's name and a message are text: markup in them never becomes an element, a
    script end or a request (rendered in-process from a RunResult, as the command does)."""
    from cogvid_lint.findings import Diagnostic, Location, Severity
    from cogvid_lint.pictures import ClipPictures, StripFrame
    from cogvid_lint.report.html import render
    from cogvid_lint.report.result import RunResult

    evil = '</script><img src="http://example.invalid/x.png"><!--'
    clip = tmp_path / f"v{evil.replace('/', '_')}.mp4"
    strip = thumbs.compose(str(clip), (0,), (8, 8), {0: np.zeros((8, 8, 3), np.uint8)})
    result = RunResult(
        diagnostics=[Diagnostic("CVL104", "dropped-frames", Severity.INFO, f"message {evil}", Location(clip)),
                     Diagnostic("CVL401", "decord-before-torch", Severity.ERROR, evil, Location(tmp_path / "t.py", 1))],
        rules=[], cwd=tmp_path, clip_codes=frozenset({"CVL104"}),
        pictures={str(clip): ClipPictures(strip.jpeg, (8, 8), (StripFrame(0, 0, 0.0),), f"1 frame {evil}")},
        excerpts={(str(tmp_path / "t.py"), 1): ((1, evil),)})
    text = render(result)
    page = _parse(text)
    assert not [a for a in page.attributes if a[1] in ("src", "href") and "example.invalid" in a[2]]
    assert [tag for tag, name, _ in page.attributes if tag == "img" and name == "data-strip"] == ["img"]
    assert sum(1 for tag, name, _ in page.attributes if tag == "img" and name == "width") == 1  # no other <img>
    assert text.count("</script>") == 3  # the two JSON blocks and the script, nothing from the data
    assert "<img src=" not in text and text.count("<!--") == 0
    assert json.loads(re.search(r'id="strips">(.*?)</script>', text, re.S)[1])["c0"].startswith("data:image/jpeg")
