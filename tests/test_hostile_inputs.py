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
