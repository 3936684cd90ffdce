"""Hostile inputs (issue 17): each case is built the way the finding was, and must end in
a finding or a one-line error naming the file, never a traceback, a hang or a lost file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av  # before decord (see clips)
import decord
import pytest

from clips import make_clip
from fuzz.seeds import PPS, annexb, avcc, baseline_sps, global_header_avi, with_extradata

from cogvid_lint.probe import pixfmt
from cogvid_lint.probe.pyav import probe


def _lint(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cogvid_lint", *args], cwd=root, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc


# --- 1. Annex B parameter sets with 4-byte start codes -------------------------------

def test_global_header_avi_is_readable(tmp_path):
    path = global_header_avi(tmp_path / "x.avi")
    with av.open(str(path)) as container:
        extradata = container.streams.video[0].codec_context.extradata
    assert extradata.startswith(b"\x00\x00\x00\x01")  # what crashed the SPS filter
    info = probe(path)
    assert info.error is None, info.error
    reader = decord.VideoReader(str(path))
    assert (info.frames, info.pix_fmt) == (len(reader), "yuv420p")


@pytest.mark.parametrize("extradata", [b"\x00\x00\x00\x01", b"\x00" * 12, b"\x00\x00\x01\x00\x00\x01",
                                       annexb(baseline_sps()), annexb(PPS)])
def test_annexb_without_both_parameter_sets_is_unknown(extradata):
    assert pixfmt.h264_pix_fmt(extradata, 0, 0) is None


def test_annexb_four_byte_start_codes_parse():
    assert pixfmt.h264_pix_fmt(annexb(baseline_sps(), PPS), 0, 0) == "yuv420p"


# --- 2. a huge poc cycle: refused as FFmpeg refuses it; reads bounded -------------------

class _Counting(bytes):
    """Bytes that count what a reader slices out of them."""

    touched = 0

    def __getitem__(self, key):
        part = super().__getitem__(key)
        if isinstance(key, slice):
            type(self).touched += len(part)
        return part


def _parse_counting(sps: bytes) -> tuple[tuple, int, int]:
    _Counting.touched = 0
    bits = pixfmt._Bits(_Counting(sps[1:]))
    reads = 0
    original = bits.u

    def u(n):
        nonlocal reads
        reads += 1
        return original(n)

    bits.u = u
    try:
        fields = pixfmt._sps_fields(bits, 0, 0)
    except ValueError as exc:
        fields = (str(exc),)
    return fields, reads, _Counting.touched


def test_poc_cycle_ffmpeg_refuses_is_refused_at_once():
    sps = baseline_sps(2**32 - 2, entries=64_000)
    assert pixfmt.h264_pix_fmt(avcc(sps), 0, 0) is None
    fields, reads, touched = _parse_counting(sps)
    assert fields == ("poc cycle too long",)
    assert reads < 100 and touched < 500  # stopped at the count, not after 64,000 entries


def test_poc_cycle_in_range_parses_and_each_read_touches_few_bytes():
    sps = baseline_sps(255)
    assert pixfmt.h264_pix_fmt(avcc(sps), 0, 0) == "yuv420p"
    fields, reads, touched = _parse_counting(sps)
    assert fields[:2] == (1, 8)
    assert reads > 255 and touched <= 5 * reads  # linear: no read copies the whole NAL


def test_clip_with_huge_poc_cycle_is_a_finding_within_its_timeout(tmp_path):
    # the finding's clip: a real clip whose stream header carries the hostile SPS
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    src = global_header_avi(tmp_path / "src.avi")
    hostile = b"\x00\x00\x01" + baseline_sps(2**32 - 2, entries=1_000_000) + b"\x00\x00\x01" + PPS
    with_extradata(src, data / "videos" / "x.avi", hostile)
    assert (data / "videos" / "x.avi").stat().st_size > 100_000
    (data / "videos.txt").write_text("videos/x.avi\n")
    (data / "prompts.txt").write_text("a caption\n")
    proc = _lint(tmp_path, "--data-root", "data", "--probe-timeout", "2", "--no-cache", "--select", "CVL101",
                 "--output-format", "json", timeout=30)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["diagnostics"]
    assert [d["code"] for d in found] == ["CVL101"]
    assert "unknown pixel format" in found[0]["message"], found[0]["message"]  # FFmpeg refuses the SPS too


# --- 5 and 12. hostile safetensors headers: that file's corrupt-cache finding, bounded --

def _cache_lint(root: Path) -> list[dict]:
    proc = _lint(root, "--data-root", "data", "--select", "CVL3", "--output-format", "json", timeout=60)
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)["diagnostics"]


@pytest.mark.parametrize("header, says", [
    ("[" * 993 + "]" * 993, "nested too deeply"),
    ('{"encoded_video": {"dtype": "F16", "shape": [1], "data_offsets": [0, ' + "9" * 4301 + "]}}", "digit"),
    ('{"encoded_video": {"dtype": "F16", "shape": [1], "data_offsets": [0, ' + "9" * 4000 + "]}}", "2^64"),
])
def test_hostile_safetensors_header_is_that_files_finding(tmp_path, header, says):
    from cache_factory import cached_dataset, latent_path
    from fuzz.seeds import header_file

    data = cached_dataset(tmp_path / "data")
    bad = latent_path(data, "a")
    bad.write_bytes(header_file(header))
    found = _cache_lint(tmp_path)
    assert [(d["code"], Path(d["path"]).name) for d in found] == [("CVL303", "a.safetensors")]
    assert says in found[0]["message"] and len(found[0]["message"]) < 1000, found[0]["message"][:300]


def test_many_tensor_names_are_listed_briefly(tmp_path):
    import numpy as np
    from cache_factory import cached_dataset, latent_path
    from fuzz.seeds import safetensors_bytes

    data = cached_dataset(tmp_path / "data")
    latent_path(data, "a").write_bytes(safetensors_bytes({f"t{i:05d}": np.zeros(1, np.uint8) for i in range(20_000)}))
    found = _cache_lint(tmp_path)
    assert [d["code"] for d in found] == ["CVL303"]
    message = found[0]["message"]
    assert "t00000, t00001" in message and "(20000 in all)" in message and len(message) < 1000


# --- 6, 7, 12. hostile configs: one line naming the file; foreign files: a warning ----

DEEP_YAML = "[" * 1000 + "]" * 1000
DEEP_TOML = "[" * 500 + "]" * 500
LONG_INT = "9" * 5000
BOMB = "\n".join(["rules:", "  CVL102:", "    params:", '      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
                 + [f"      {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)]) + "\n"
RULE = ("code: TEAM001\nname: deep\ntarget: video\nseverity: warning\nwhen:\n  - {{field: frames, op: '>', value: {}}}\n"
        "message: m\nsummary: s\ndocs: {{what: w, why: y, example: e, fix: f}}\n")


@pytest.mark.parametrize("files, named, says", [
    ({"cogvid-lint.yaml": f"data-root: {DEEP_YAML}\n"}, "cogvid-lint.yaml", "nest"),  # libyaml's own limit, or ours
    ({"cogvid-lint.yaml": "data-root: " + "[" * 100 + "]" * 100 + "\n"}, "cogvid-lint.yaml", "nested deeper than 64"),
    ({"cogvid-lint.yaml": f"jobs: {LONG_INT}\n"}, "cogvid-lint.yaml", "digits"),
    ({"cogvid-lint.yaml": BOMB}, "cogvid-lint.yaml", "once its aliases are expanded"),
    ({"cogvid-lint.yaml": "id-token: " + "a" * (50 << 20) + "\n"}, "cogvid-lint.yaml", "larger than"),
    ({"pyproject.toml": f"[tool.cogvid-lint]\nexclude = {DEEP_TOML}\n"}, "pyproject.toml", "nested too deeply"),
    ({"pyproject.toml": f"[tool.cogvid-lint]\njobs = {LONG_INT}\n"}, "pyproject.toml", "digits"),
    ({"pyproject.toml": "[tool.cogvid-lint]\n" + "".join(f"[tool.cogvid-lint.x{'.y' * i}]\n" for i in range(100))},
     "pyproject.toml", "nested deeper than"),
    ({"cogvid-lint.yaml": "rules-dir: r\n", "r/deep.yaml": RULE.format(DEEP_YAML)}, "deep.yaml", "nest"),
    ({"cogvid-lint.yaml": "rules-dir: r\n", "r/int.yaml": RULE.format(LONG_INT)}, "int.yaml", "digits"),
])
def test_hostile_config_is_one_line_naming_the_file(tmp_path, files, named, says):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "data").mkdir()
    proc = _lint(tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stdout[-500:]
    lines = proc.stderr.strip().splitlines()
    assert lines and all(line.startswith("cogvid-lint: error: ") and len(line) < 1000 for line in lines), lines
    assert any(named in line and says in line for line in lines), lines


@pytest.mark.parametrize("files", [
    {"pyproject.toml": f"[tool.black]\nx = {DEEP_TOML}\n"},
    {"pyproject.toml": f"[tool.black]\nline-length = {LONG_INT}\n"},
    {"pyproject.toml": "tool = 1\n"},
    {".pre-commit-config.yaml": f"repos: {DEEP_YAML}\n"},
    {".pre-commit-config.yaml": BOMB.replace("rules:", "repos:")},
])
def test_hostile_foreign_file_is_a_warning_and_ignored(tmp_path, files):
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    (tmp_path / "mod.py").write_text("import decord\nimport torch\n")
    (tmp_path / ".git").mkdir()
    proc = _lint(tmp_path, "mod.py", "--select", "CVL4", "--output-format", "json", timeout=60)
    assert proc.returncode == 1, proc.stderr  # the run went on: decord above torch is found
    assert [d["code"] for d in json.loads(proc.stdout)["diagnostics"]] == ["CVL401"]
    if "tool = 1" not in next(iter(files.values())):
        name = next(iter(files))
        assert any(line.startswith("cogvid-lint: warning: ") and name in line and "ignored" in line
                   for line in proc.stderr.splitlines()), proc.stderr


def _shared_bomb(levels: int = 9, width: int = 10) -> list:
    """What an alias bomb loads to: `width ** levels` leaves sharing a few lists."""
    value: list = ["lol"] * width
    for _ in range(levels - 1):
        value = [value] * width
    return value


def test_rendering_a_huge_list_parameter_is_bounded():
    from cogvid_lint.bounded import short
    from cogvid_lint.engine import render

    bomb = _shared_bomb()
    message = render("min {x} frames, {n} digits, at {p}", {"x": bomb, "n": 10**4000, "p": "p" * 10**6})
    assert message.startswith("min [[[") and len(message) < 2000
    assert len(short(bomb)) <= 200 and len(short(10**4000)) < 100


def test_alias_bomb_is_refused_before_it_is_built():
    from cogvid_lint.bounded import MAX_NODES, BadDocument, load_yaml

    with pytest.raises(BadDocument, match="aliases"):
        load_yaml(BOMB)
    assert load_yaml(BOMB.split("\n      c:")[0] + "\n")["rules"]["CVL102"]["params"]["b"][0] == ["lol"] * 9
    fine = "x: &a [" + ", ".join(["1"] * 100) + "]\n" + "".join(f"y{i}: *a\n" for i in range(MAX_NODES // 200))
    assert len(load_yaml(fine)) == 1 + MAX_NODES // 200  # aliases a real config might use still load


# --- 8. `matches`: linear-time patterns; overrides validated like defaults -------------

USER_RULE = ("code: TEAM010\nname: odd-name\ntarget: video\nseverity: warning\n"
             "when:\n  - {{field: path, op: matches, param: pattern}}\n"
             "params:\n  pattern: {{type: str, default: '{}'}}\n"
             "message: 'odd name'\nsummary: s\ndocs: {{what: w, why: y, example: e, fix: f}}\n")


def _rule_project(tmp_path: Path, default: str, override: str | None = None) -> Path:
    config = "data-root: data\nrules-dir: team\n"
    if override is not None:
        config += f"rules:\n  TEAM010: {{params: {{pattern: '{override}'}}}}\n"
    (tmp_path / "cogvid-lint.yaml").write_text(config)
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "odd.yaml").write_text(USER_RULE.format(default))
    (tmp_path / "data" / "v").mkdir(parents=True)
    make_clip(tmp_path / "data" / "v" / ("a" * 40 + ".mp4"), frames=3)
    (tmp_path / "data" / "videos.txt").write_text("v/" + "a" * 40 + ".mp4\n")
    (tmp_path / "data" / "prompts.txt").write_text("a caption\n")
    return tmp_path


@pytest.mark.parametrize("pattern", ["((a)+)+X", "(?:(?:a)+)+X", "a*" * 10 + "X"])
def test_backtracking_patterns_run_in_linear_time(tmp_path, pattern):
    _rule_project(tmp_path, pattern)
    proc = _lint(tmp_path, "--select", "TEAM010", "--output-format", "json", timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout)["diagnostics"] == [], proc.stderr
    hit = pattern.replace("X", r"\.mp4")  # the same shape, matching: the rule does fire
    (tmp_path / "team" / "odd.yaml").write_text(USER_RULE.format(hit))
    proc = _lint(tmp_path, "--select", "TEAM010", "--output-format", "json", timeout=60)
    assert [d["code"] for d in json.loads(proc.stdout)["diagnostics"]] == ["TEAM010"], proc.stderr


@pytest.mark.parametrize("override, says", [(r"(a)\1", "RE2 syntax"), ("x" * 300, "longer than")])
def test_refused_pattern_override_is_a_config_error(tmp_path, override, says):
    _rule_project(tmp_path, "zzz", override)
    proc = _lint(tmp_path, "--select", "TEAM010", timeout=60)
    assert proc.returncode == 2, proc.stdout
    line, = proc.stderr.strip().splitlines()
    assert line.startswith("cogvid-lint: error: ") and "cogvid-lint.yaml" in line
    assert "TEAM010" in line and "'params.pattern'" in line and says in line, line


# --- 9. control characters in a listed path never reach the terminal raw --------------

@pytest.mark.parametrize("fmt", ["full", "concise", "github"])
def test_control_characters_in_a_listed_path_are_escaped(tmp_path, fmt):
    data = tmp_path / "data"
    data.mkdir()
    (data / "videos.txt").write_bytes(b"videos/\x1b[31mred\x1b[0m.mp4\nvideos/\x1b]0;pwned\x07.mp4\n"
                                      b"videos/\xe2\x80\xaeevil.mp4\n")
    (data / "prompts.txt").write_text("a\nb\nc\n")
    summary = tmp_path / "summary.md"
    proc = _lint(tmp_path, "--data-root", "data", "--select", "CVL0", "--output-format", fmt)
    assert proc.returncode == 1, proc.stderr
    env = {**os.environ, "NO_COLOR": "1", "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    shown = proc.stdout
    if fmt == "github":  # and the job summary the github format writes
        shown += subprocess.run([sys.executable, "-m", "cogvid_lint", "--data-root", "data", "--select", "CVL0"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env).stdout
        shown += summary.read_text()
    assert not any(ch in shown for ch in "\x1b\x07\u202e"), repr(shown[:400])
    assert "\\x1b[31mred\\x1b[0m.mp4" in shown and "\\x1b]0;pwned\\x07.mp4" in shown and "\\u202eevil" in shown


# --- 12. the mp4 box walker: work capped per file, not per list ------------------------

def _boxes(kind: bytes, payload: bytes) -> bytes:
    import struct

    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def test_box_walk_is_capped_per_file(tmp_path):
    from cogvid_lint.probe import mp4box

    # 8 MB: a moov of 1,000 traks of 1,000 empty 8-byte boxes each (10x the cap, in lists
    # each under it)
    trak = _boxes(b"trak", _boxes(b"free", b"") * 1000)
    data = _boxes(b"ftyp", b"isom\0\0\0\0") + _boxes(b"moov", trak * 1000)
    path = tmp_path / "boxes.mp4"
    path.write_bytes(data)
    src = mp4box._Source(str(path), data, len(data))
    with pytest.raises(ValueError, match="too many boxes"):
        list(mp4box._moov_rotations(src, 24, len(data)))
    assert src.boxes == mp4box._MAX_BOXES + 1
    layout = mp4box.read_layout(str(path), data[:mp4box.HEAD_BYTES], len(data))  # never raises
    assert layout.is_bmff and layout.has_moov


def test_box_walk_of_a_real_clip_is_unchanged(tmp_path):
    from cogvid_lint.probe import mp4box

    path = make_clip(tmp_path / "r.mp4", frames=3, rotation=90, width=64, height=32)
    layout = mp4box.read_layout(str(path))
    assert (layout.is_bmff, layout.has_moov, layout.overruns_eof, layout.track_rotations) == (True, True, False, [90])


def test_self_doubling_launch_variable_stays_bounded(tmp_path):
    # found by the launch-script fuzz harness: `A=$A$A` on 60 lines is 2^61 bytes expanded
    from cogvid_lint.discover import launch

    script = tmp_path / "train.sh"
    script.write_text("A=xx\n" + "A=$A$A\n" * 60 + "--data_root $A/data --model_name cogvideox-t2v\n")
    found, = launch.read_launch_script(script)
    assert len(found.values["data_root"]) <= launch._MAX_EXPANDED and found.values["model"] == "cogvideox-t2v"
