"""`--output-format html`: one self-contained page of a run (`-o report.html`).

The summary, the findings per rule (a table whose boxes filter), the settings and where
they came from, then every finding grouped by rule: a clip finding with the clip's
thumbnail strip (the frames its trainer takes; made upstream and stored, see
probe/thumbs.py), a finding on a line with its source lines. Filters by rule and severity
are a few lines of inline script that rewrite one inline style sheet (one DOM write
whatever the number of findings).

Nothing leaves the file: images are data: URIs, there are no fonts, links or scripts from
elsewhere, and the page's Content-Security-Policy (`default-src 'none'`) forbids the
browser any request at all. Each strip is written once, however many findings show it, in
a JSON map that the script hands to an image as it nears the screen (IntersectionObserver):
a report of 10,000 clips parses its text and shows its first screen without decoding the
rest (bench/html_bench.py).
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from html import escape

from cogvid_lint import __version__
from cogvid_lint.findings import Diagnostic
from cogvid_lint.pictures import ClipPictures
from cogvid_lint.report import ci
from cogvid_lint.report.result import RunResult, printable

SEVERITIES = ("error", "warning", "info")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1b1b;--dim:#666;--line:#ddd;--card:#f6f6f6;
--error:#c62828;--warning:#a36100;--info:#1565c0}
@media (prefers-color-scheme:dark){:root{--bg:#161616;--fg:#e6e6e6;--dim:#9a9a9a;--line:#333;--card:#202020;
--error:#ff6b6b;--warning:#ffb74d;--info:#64b5f6}}
body{margin:0 auto;max-width:1200px;padding:16px 20px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 6px}h3{font-size:15px;margin:0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
table{border-collapse:collapse;margin:6px 0 10px}th,td{text-align:left;padding:3px 10px 3px 0;
border-bottom:1px solid var(--line);vertical-align:top}td.n{text-align:right}
.sev{font-weight:600}.sev.error{color:var(--error)}.sev.warning{color:var(--warning)}.sev.info{color:var(--info)}
.dim{color:var(--dim)}#filters{position:sticky;top:0;background:var(--bg);padding:6px 0;
border-bottom:1px solid var(--line);z-index:1}#filters label{margin-right:14px}
section.rule{margin-top:18px}section.rule>header{border-bottom:2px solid var(--line);padding-bottom:4px}
.f{background:var(--card);border-radius:6px;padding:8px 10px;margin:8px 0;
content-visibility:auto;contain-intrinsic-size:auto 110px}
.f p{margin:3px 0}.where{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
figure{margin:6px 0 0;overflow-x:auto}figure img{display:block;background:#464646}
figcaption{display:flex;font-size:11px;color:var(--dim)}figcaption span{flex:none;width:var(--w);
overflow:hidden;white-space:nowrap}figcaption span.pad{color:var(--warning)}
pre.src{margin:6px 0 0;padding:6px 8px;background:var(--bg);border:1px solid var(--line);overflow-x:auto}
pre.src b{font-weight:400;background:rgba(255,200,0,.22);display:inline-block;min-width:100%}
pre.src i{font-style:normal;color:var(--dim);user-select:none}
"""

SCRIPT = """
(function(){
performance.mark('cvl-script');
var strips=JSON.parse(document.getElementById('strips').textContent);
var counts=JSON.parse(document.getElementById('counts').textContent);
var sheet=document.getElementById('hidden');
var boxes=document.querySelectorAll('input[data-sev],input[data-rule]');
function update(){
  var off={sev:{},rule:{}},css=[];
  boxes.forEach(function(b){if(!b.checked){var k=b.dataset.sev?'sev':'rule',v=b.dataset.sev||b.dataset.rule;
    off[k][v]=1;css.push('.'+(k==='sev'?'s-':'r-')+v+'{display:none}');}});
  sheet.textContent=css.join('\\n');
  var shown=0,total=0;
  counts.forEach(function(c){total+=c[2];if(!off.rule[c[0]]&&!off.sev[c[1]])shown+=c[2];});
  document.getElementById('shown').textContent=shown+' of '+total+' findings shown';
  load();
}
boxes.forEach(function(b){b.addEventListener('change',update);});
function show(img){var s=strips[img.dataset.strip];if(s&&!img.src){img.src=s;}
  var cap=img.nextElementSibling;if(cap&&cap.dataset.l&&!cap.firstChild){
    cap.dataset.l.split('|').forEach(function(t){var e=document.createElement('span');e.textContent=t;cap.appendChild(e);});}}
var seen=('IntersectionObserver' in window)?new IntersectionObserver(function(es){
  es.forEach(function(e){if(e.isIntersecting){show(e.target);seen.unobserve(e.target);}});
},{rootMargin:'800px 0px'}):null;
function load(){document.querySelectorAll('img[data-strip]:not([src])').forEach(function(i){
  if(seen)seen.observe(i);else show(i);});}
update();
document.documentElement.dataset.ready='1';
performance.mark('cvl-ready');
})();
"""


def _text(value: object) -> str:
    return escape(printable(str(value)))


def _seconds(value: float | None) -> str:
    return f" {value:.2f}s" if value is not None else ""


def _strip(pictures: ClipPictures, key: str, shown_path: str) -> str:
    w, h = pictures.tile
    # the labels under the tiles become elements only when the strip is shown (the script):
    # 10,000 findings x 8 labels would be 80,000 elements to build before the page is ready
    labels = _text("|".join(f"#{f.index}{_seconds(f.seconds)}" for f in pictures.frames))
    problem = f'<p class="dim">{_text(pictures.problem)}</p>' if pictures.problem else ""
    if not pictures.jpeg:
        return (f'<p class="dim">the trainer takes {_text(pictures.sample)}; '
                f'no thumbnails: {_text(pictures.problem or "not decoded")}</p>')
    return (f'<figure><p class="dim">the trainer takes {_text(pictures.sample)}; shown:</p>'
            f'<img data-strip="{key}" width="{w * len(pictures.frames)}" height="{h}" '
            f'alt="{len(pictures.frames)} frames of {_text(shown_path)}">'
            f'<figcaption style="--w:{w}px" data-l="{labels}"></figcaption>{problem}</figure>')


def _excerpt(lines: tuple[tuple[int, str], ...], at: int) -> str:
    width = len(str(lines[-1][0])) if lines else 1
    rows = []
    for number, text in lines:
        row = f"<i>{number:>{width}} </i>{_text(text)}"
        rows.append(f"<b>{row}</b>" if number == at else row)
    return '<pre class="src">' + "\n".join(rows) + "</pre>"


def render(result: RunResult) -> str:
    diagnostics = list(result.diagnostics)
    counts = result.counts()
    total = sum(counts.values())
    by_rule: dict[str, list[Diagnostic]] = defaultdict(list)
    for d in diagnostics:
        by_rule[d.code].append(d)
    per = Counter((d.code, d.severity.value) for d in diagnostics)
    strip_ids: dict[str, str] = {}
    strips: dict[str, str] = {}
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           '<meta name="referrer" content="no-referrer">',
           f"<title>cogvid-lint: {total} problem{'s' if total != 1 else ''}</title>",
           f"<style>{STYLE}</style><style id=\"hidden\"></style></head><body>"]
    root = ci.root_of(result)
    out.append(f"<h1>cogvid-lint report</h1><p class=\"dim\">{_text(root)} &middot; cogvid-lint {__version__}</p>")
    if total:
        parts = ", ".join(f'<span class="sev {k}">{v} {k}{"s" if v != 1 and k != "info" else ""}</span>'
                          for k, v in counts.items() if v)
        out.append(f"<p><strong>{total} problem{'s' if total != 1 else ''}</strong> ({parts})</p>")
    else:
        out.append("<p><strong>All checks passed.</strong></p>")
    out.append('<div id="filters">' + "".join(
        f'<label><input type="checkbox" data-sev="{sev}" checked> <span class="sev {sev}">{sev}</span> '
        f'({counts[sev]})</label>' for sev in SEVERITIES) + '<span id="shown" class="dim"></span></div>')
    if by_rule:
        out.append("<h2>Findings by rule</h2><table><thead><tr><th>show</th><th>code</th><th>name</th>"
                   "<th>severity</th><th>count</th><th>why it matters</th></tr></thead><tbody>")
        for code in sorted(by_rule):
            group = by_rule[code]
            rule = result.rule(code)
            severities = sorted({d.severity.value for d in group}, key=SEVERITIES.index)
            out.append(f'<tr><td><input type="checkbox" data-rule="{_text(code)}" checked '
                       f'aria-label="show {_text(code)}"></td><td><a href="#{_text(code)}">{_text(code)}</a></td>'
                       f"<td>{_text(group[0].name)}</td><td>"
                       + " ".join(f'<span class="sev {s}">{s}</span>' for s in severities)
                       + f'</td><td class="n">{len(group)}</td><td>{_text(rule.summary if rule else "")}</td></tr>')
        out.append("</tbody></table>")
    if result.settings is not None and result.datasets:
        out.append("<h2>Settings and where they came from</h2><table><thead><tr><th>dataset</th><th>setting</th>"
                   "<th>value</th><th>source</th></tr></thead><tbody>")
        for name, key, value, source in result.setting_rows():
            out.append(f"<tr><td>{_text(name) if key == 'data_root' else ''}</td><td>{_text(key)}</td>"
                       f"<td>{_text(value)}</td><td>{_text(source)}</td></tr>")
        out.append("</tbody></table>")
    for note in result.notes:
        out.append(f'<p class="dim">{_text(note)}</p>')
    for code in sorted(by_rule):
        group = by_rule[code]
        rule = result.rule(code)
        out.append(f'<section class="rule r-{_text(code)}" id="{_text(code)}"><header><h2>{_text(code)} '
                   f'{_text(group[0].name)} <span class="dim">({len(group)})</span></h2>'
                   + (f"<p>{_text(rule.summary)}</p>" if rule is not None else "") + "</header>")
        for d in group:
            out.append(_finding(d, result, strip_ids, strips))
        out.append("</section>")
    out.append(f'<script type="application/json" id="strips">{_json(strips)}</script>')
    out.append(f'<script type="application/json" id="counts">'
               f'{_json([[code, sev, n] for (code, sev), n in sorted(per.items())])}</script>')
    out.append(f"<script>{SCRIPT}</script></body></html>\n")
    return "".join(out)


def _finding(d: Diagnostic, result: RunResult, strip_ids: dict[str, str], strips: dict[str, str]) -> str:
    sev = d.severity.value
    where = _text(result.where(d.location))
    listed = ""
    if d.anchor is not None and d.anchor.path != d.location.path:
        listed = f' <span class="dim">listed at {_text(result.where(d.anchor))}</span>'
    parts = [f'<div class="f s-{sev} r-{_text(d.code)}"><p><span class="sev {sev}">{sev}</span> '
             f'<span class="where">{where}</span>{listed}</p><p>{_text(d.message)}</p>']
    hint = d.fix.title if d.fix is not None else d.hint
    if hint:
        parts.append(f'<p class="dim">{"fix" if d.fix is not None else "hint"}: {_text(hint)}</p>')
    path = str(d.location.path)
    pictures = result.pictures.get(path) if d.code in result.clip_codes else None
    if pictures is not None:
        key = strip_ids.get(path)
        if key is None and pictures.jpeg:
            key = strip_ids[path] = f"c{len(strip_ids)}"
            strips[key] = "data:image/jpeg;base64," + base64.b64encode(pictures.jpeg).decode("ascii")
        parts.append(_strip(pictures, key or "", result.relpath(d.location.path)))
    elif d.location.line is not None:
        lines = result.excerpts.get((path, d.location.line))
        if lines:
            parts.append(_excerpt(lines, d.location.line))
    parts.append("</div>")
    return "".join(parts)


def _json(value: object) -> str:
    """JSON safe inside <script>: no `<` at all (`</script>` would end the element, `<!--`
    change how it is parsed), written as the JSON escape \\u003c; ASCII only."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("<", "\\u003c")
