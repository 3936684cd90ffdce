"""How fast a big HTML report opens: 10,000 clip findings, each with its own thumbnail strip,
in a real headless Chromium (Debian's `chromium`, driven by Playwright), against a trivial
page opened by the same browser in the same run (interleaved rounds).

    python bench/html_bench.py [--findings 10000] [--rounds 5] [--keep report.html]

The findings are synthetic (three rules, three severities) but go through the real
reporter (cogvid_lint.report.html.render); each strip is a real JPEG made by
probe/thumbs.compose from 8 tiles of 80x45 of smooth moving shapes with grain, sized like a
real clip's. "Open" is navigation start to the page saying it is ready (its script ran:
filters set up, the first screen's strips handed to their images) and to the first
contentful paint; both are printed for the report and for the baseline, with the ratio.
No figure is asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cogvid_lint.catalogue import builtin_rules_dir, load_rules  # noqa: E402
from cogvid_lint.findings import Diagnostic, Location, Severity  # noqa: E402
from cogvid_lint.pictures import ClipPictures, StripFrame  # noqa: E402
from cogvid_lint.probe import thumbs  # noqa: E402
from cogvid_lint.report.html import render  # noqa: E402
from cogvid_lint.report.result import RunResult  # noqa: E402

RULES = (("CVL104", Severity.INFO, "49 of 120 frames: 0..48; the last 71 never shown"),
         ("CVL105", Severity.WARNING, "1280x720 stretched to 720x480: the picture is squashed 16%"),
         ("CVL102", Severity.ERROR, "17 frames: fewer than the 49 the trainer takes"))


def tiles(seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:45, 0:80]
    base = rng.integers(0, 255, 3)
    out = {}
    for n in range(8):
        cx, cy = 10 + 7 * n + seed % 13, 12 + (seed % 21)
        blob = ((xx - cx) ** 2 + (yy - cy) ** 2 < 120).astype(np.float32)
        picture = (base[None, None, :] * (0.4 + 0.6 * xx[..., None] / 80)
                   + 120 * blob[..., None] + rng.normal(0, 6, (45, 80, 3)))
        out[n * 6] = picture.clip(0, 255).astype(np.uint8)
    return out


def report(findings: int) -> str:
    catalogue = {r.code: r for r in load_rules(builtin_rules_dir())}
    root = Path("/bench/project")
    chosen = tuple(range(0, 48, 6))
    frames = tuple(StripFrame(i, i, i / 8) for i in chosen)
    diagnostics, pictures = [], {}
    unique = 64  # distinct strip pictures, re-encoded per clip (each clip's strip is its own bytes)
    made = [thumbs.compose("x", chosen, (80, 45), tiles(seed)).jpeg for seed in range(unique)]
    for i in range(findings):
        code, severity, message = RULES[i % len(RULES)]
        clip = root / "data" / "videos" / f"clip{i:05d}.mp4"
        diagnostics.append(Diagnostic(code, catalogue[code].name, severity, f"{message} ({i})", Location(clip),
                                      anchor=Location(root / "data" / "videos.txt", i + 1)))
        jpeg = made[i % unique]
        pictures[str(clip)] = ClipPictures(jpeg + i.to_bytes(4, "little"), (80, 45), frames, RULES[0][2])
    result = RunResult(diagnostics=diagnostics, rules=list(catalogue.values()), cwd=root, pictures=pictures,
                       clip_codes=frozenset(code for code, _, _ in RULES))
    return render(result)


BASELINE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>baseline</title></head><body><p>hello</p>"
            "<script>document.documentElement.dataset.ready='1';performance.mark('cvl-ready')</script></body></html>")


def open_once(page, url: str) -> tuple[float, float]:
    """(ms to ready, ms to first contentful paint) of one fresh navigation to `url`."""
    page.goto("about:blank")
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => document.documentElement.dataset.ready === '1'", timeout=60_000)
    ready = page.evaluate("() => performance.getEntriesByName('cvl-ready')[0].startTime")
    page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length > 0", timeout=60_000)
    paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
    script = page.evaluate("() => (performance.getEntriesByName('cvl-script')[0] || {startTime: 0}).startTime")
    return ready, paint, script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--keep", metavar="FILE", help="also write the generated report here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    text = report(args.findings)
    render_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="cvl-html-bench-") as tmp:
        subject, baseline = Path(tmp) / "report.html", Path(tmp) / "baseline.html"
        subject.write_text(text, encoding="utf-8")
        baseline.write_text(BASELINE, encoding="utf-8")
        if args.keep:
            Path(args.keep).write_text(text, encoding="utf-8")
        print(f"report: {args.findings} findings, {len(text) / 1e6:.1f} MB, rendered in {render_s:.2f} s")
        times = {"report": [], "baseline": []}
        with sync_playwright() as driver:
            context = driver.chromium.launch_persistent_context(
                str(Path(tmp) / "profile"), executable_path=args.chromium, headless=True, args=["--no-sandbox"],
                viewport={"width": 1280, "height": 900})
            page = context.new_page()
            open_once(page, baseline.as_uri())  # warm the browser up once, unmeasured
            for _ in range(args.rounds):  # interleaved: both see the same machine load
                times["baseline"].append(open_once(page, baseline.as_uri()))
                times["report"].append(open_once(page, subject.as_uri()))
            loaded = page.evaluate("Array.from(document.images).filter(i => i.src).length")
            context.close()
    print(f"{'page':<10}{'ready ms (median)':>20}{'first paint ms (median)':>26}")
    medians = {}
    for name in ("baseline", "report"):
        ready = statistics.median(t[0] for t in times[name])
        paint = statistics.median(t[1] for t in times[name])
        medians[name] = (ready, paint)
        print(f"{name:<10}{ready:>20.0f}{paint:>26.0f}")
    (br, bp), (rr, rp) = medians["baseline"], medians["report"]
    print(f"report / baseline: ready {rr / br:.1f}x, first paint {rp / bp:.1f}x; "
          f"report ready after {rr / 1000:.2f} s; strips handed to images on the first screen: {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
