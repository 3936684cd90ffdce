"""cogvid_lint.probe.pyav against real clips, with decord (the trainer's reader) as judge."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

# av must load before decord: decord's bundled libvpx breaks PyAV's vp9 encoder otherwise
import av
import decord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    from clips import (
        cut_tail_bytes,
        make_audio_only,
        make_clip,
        make_forged_size_avi,
        make_png,
        make_text,
        make_zero_byte,
        packet_offsets,
        truncate_clip,
    )
except ImportError:  # collected with tests/ not on sys.path
    from tests.clips import (
        cut_tail_bytes,
        make_audio_only,
        make_clip,
        make_forged_size_avi,
        make_png,
        make_text,
        make_zero_byte,
        packet_offsets,
        truncate_clip,
    )

from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.pyav import probe

REPO = Path(__file__).resolve().parents[1]

# name -> make_clip kwargs; every one must be readable and agree with decord.
DECODABLE = {
    "h264.mp4": {},
    "vp9.webm": {},
    "h264.mkv": {},
    "mpeg4.mov": {"codec": "mpeg4"},
    "h264.mov": {},
    "mpeg4.avi": {},
    "mpeg4.mp4": {"codec": "mpeg4"},
    "no_bframes.mp4": {"bframes": False},
    "odd_size.mp4": {"width": 50, "height": 30},
    "ntsc.mp4": {"fps": Fraction(30000, 1001), "frames": 31},
    "rot90.mp4": {"width": 64, "height": 32, "rotation": 90},
    "rot270.mp4": {"width": 64, "height": 32, "rotation": 270},
    "rot180.mp4": {"rotation": 180},
    "rot90.mov": {"width": 64, "height": 32, "rotation": 90},
    "rot90.mkv": {"width": 64, "height": 32, "rotation": 90},
    "vfr.mp4": {"vfr": True, "frames": 20},
    "vfr.mkv": {"vfr": True, "frames": 20},
    "vfr.webm": {"vfr": True, "frames": 20},
    "long_audio.mp4": {"audio_seconds": 4.0},
    "long_audio.mkv": {"audio_seconds": 4.0},
    "long_audio.webm": {"audio_seconds": 4.0},
    "short_audio.mp4": {"audio_seconds": 0.3, "frames": 24},
    "faststart.mp4": {"faststart": True, "frames": 30},
    "one_frame.mp4": {"frames": 1},
}


def _decord_view(path: Path) -> tuple[int, tuple[int, int]]:
    vr = decord.VideoReader(str(path))
    return len(vr), tuple(vr[0].shape[:2])


def _assert_decord_parity(path: Path, info: VideoInfo) -> None:
    assert info.error is None, info.error
    n, hw = _decord_view(path)
    assert info.frames == n
    assert hw == (info.height, info.width)


@pytest.mark.parametrize("name", sorted(DECODABLE))
def test_decord_parity(tmp_path, name):
    path = make_clip(tmp_path / name, **DECODABLE[name])
    _assert_decord_parity(path, probe(path))


def test_h264_mp4_fields(tmp_path):
    path = make_clip(tmp_path / "a.mp4", width=64, height=48, frames=10, fps=8)
    info = probe(path)
    assert info == VideoInfo(
        path=str(path), frames=10, header_frames=10, width=64, height=48,
        coded_width=64, coded_height=48, rotation=0, fps=8.0, variable_frame_rate=False,
        min_frame_duration_s=0.125, max_frame_duration_s=0.125, duration_s=1.25,
        codec="h264", container=info.container, pix_fmt="yuv420p", has_audio=False,
        size_bytes=path.stat().st_size,
    )
    assert "mp4" in info.container


@pytest.mark.parametrize("suffix,write_codec,codec,container", [
    (".webm", None, "vp9", "matroska,webm"),
    (".mkv", None, "h264", "matroska,webm"),
    (".mov", "mpeg4", "mpeg4", "mov,mp4,m4a,3gp,3g2,mj2"),
])
def test_other_containers(tmp_path, suffix, write_codec, codec, container):
    path = make_clip(tmp_path / f"c{suffix}", frames=12, codec=write_codec)
    info = probe(path)
    assert info.error is None
    assert (info.frames, info.codec, info.container) == (12, codec, container)
    # Matroska carries no frame count in its header
    assert info.header_frames == (0 if "matroska" in container else 12)
    assert info.fps == 8.0 and info.duration_s == pytest.approx(1.5)


@pytest.mark.parametrize("rotation", [90, 270])
@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_quarter_turn_swaps_display_size(tmp_path, rotation, suffix):
    path = make_clip(tmp_path / f"r{suffix}", width=64, height=32, rotation=rotation)
    info = probe(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == (32, 64)
    assert (info.coded_width, info.coded_height) == (64, 32)
    _assert_decord_parity(path, info)


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotation_sign_matches_decord_pixels(tmp_path, rotation):
    # decord's convention is clockwise: a block at the stored top-left shows at the
    # top-right after 90 and at the bottom-left after 270.
    path = make_clip(tmp_path / "m.mp4", width=64, height=32, rotation=rotation,
                     marker=(0, 0, 8))
    assert probe(path).rotation == rotation
    frame = decord.VideoReader(str(path))[0].asnumpy()
    ys, xs = (frame.min(axis=-1) > 200).nonzero()
    assert frame.shape[:2] == (64, 32)
    if rotation == 90:
        assert ys.max() < 8 and xs.min() >= 24
    else:
        assert ys.min() >= 56 and xs.max() < 8


def test_rotation_180_keeps_size(tmp_path):
    path = make_clip(tmp_path / "r.mov", width=64, height=48, rotation=180)
    info = probe(path)
    assert (info.rotation, info.width, info.height) == (180, 64, 48)
    _assert_decord_parity(path, info)


def test_mkv_rotation_ignored_like_decord(tmp_path):
    # The matrix is in the file (PyAV's decoded frames carry it) but decord's FFmpeg
    # 4.1 does not read Matroska's, so the trainer sees the stored orientation.
    path = make_clip(tmp_path / "r.mkv", width=64, height=32, rotation=90)
    info = probe(path)
    assert (info.rotation, info.width, info.height) == (0, 64, 32)
    _assert_decord_parity(path, info)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm"])
def test_variable_frame_rate(tmp_path, suffix):
    path = make_clip(tmp_path / f"v{suffix}", vfr=True, frames=20)
    info = probe(path)
    assert info.error is None and info.frames == 20
    assert info.variable_frame_rate is True
    assert info.min_frame_duration_s == pytest.approx(0.040, abs=0.002)
    assert info.max_frame_duration_s == pytest.approx(0.250, abs=0.002)


@pytest.mark.parametrize("suffix,fps", [(".mp4", 30), (".mkv", 30), (".webm", 60),
                                        (".mkv", 120), (".mp4", Fraction(30000, 1001))])
def test_constant_frame_rate_is_not_vfr(tmp_path, suffix, fps):
    # mkv/webm store milliseconds, so 30 fps alternates 33/34 ms and 120 fps 8/9 ms
    path = make_clip(tmp_path / f"c{suffix}", fps=fps, frames=40)
    info = probe(path)
    assert info.error is None and info.frames == 40
    assert info.variable_frame_rate is False
    assert info.fps == pytest.approx(float(fps), rel=0.01)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm"])
def test_audio_longer_than_video(tmp_path, suffix):
    path = make_clip(tmp_path / f"a{suffix}", frames=10, fps=8, audio_seconds=5.0)
    info = probe(path)
    assert info.has_audio is True
    assert info.frames == 10
    assert info.duration_s == pytest.approx(1.25)
    _assert_decord_parity(path, info)


def test_truncated_half_mp4_moov_at_end(tmp_path):
    # The default mp4 keeps moov after mdat: half a file has no index at all.
    path = truncate_clip(make_clip(tmp_path / "t.mp4", frames=30), 0.5)
    info = probe(path)
    assert info.error.startswith("truncated: no moov box")
    with pytest.raises(RuntimeError):  # decord's "Error reading ..." when open fails
        decord.VideoReader(str(path))


def test_truncated_half_faststart_mp4(tmp_path):
    # moov up front still claims 30 frames; the cut lands inside a packet, which the
    # demuxer flags incomplete and decord cannot read past.
    path = truncate_clip(make_clip(tmp_path / "t.mp4", frames=30, faststart=True), 0.5)
    info = probe(path)
    assert info.header_frames == 30
    assert 0 < info.frames < 30
    assert info.error == f"truncated: last packet is incomplete ({info.frames} of 30 frames)"
    with pytest.raises(decord.DECORDError):
        decord.VideoReader(str(path))


def test_truncated_faststart_mp4_on_packet_boundary_is_readable(tmp_path):
    path = make_clip(tmp_path / "t.mp4", frames=30, faststart=True)
    offsets = packet_offsets(path)
    path.write_bytes(path.read_bytes()[: offsets[-4][0]])  # drop the last 4 packets
    info = probe(path)
    assert info.error is None
    assert (info.frames, info.header_frames) == (26, 30)
    _assert_decord_parity(path, info)


@pytest.mark.parametrize("limit,value", [("MAX_TAIL_BYTES", 1), ("MAX_TAIL_PIXELS", 1)])
def test_oversized_tail_is_not_decoded(tmp_path, monkeypatch, limit, value):
    from cogvid_lint.probe import pyav as mod

    monkeypatch.setattr(mod, limit, value)
    path = make_clip(tmp_path / "t.mp4", frames=30, faststart=True)
    path.write_bytes(path.read_bytes()[: packet_offsets(path)[-4][0]])
    assert probe(path).error == ("truncated: last packet not verified (last GOP too large"
                                 " to decode) (26 of 30 frames)")


def test_truncated_inside_last_packet_is_error(tmp_path):
    # header and packet count agree (30 of 30) but the last packet lost bytes
    path = make_clip(tmp_path / "t.mp4", frames=30, faststart=True)
    cut_tail_bytes(path, 3)
    info = probe(path)
    assert info.error == "truncated: last packet is incomplete (30 of 30 frames)"


def test_truncated_half_mkv_is_readable_shorter(tmp_path):
    # Matroska has no frame count: a cut cluster just ends the clip, for decord too.
    path = truncate_clip(make_clip(tmp_path / "t.mkv", frames=30), 0.5)
    info = probe(path)
    assert info.header_frames == 0 and 0 < info.frames < 30
    _assert_decord_parity(path, info)


def test_truncated_avi_partial_packet(tmp_path):
    path = truncate_clip(make_clip(tmp_path / "t.avi", frames=30), 0.9)
    info = probe(path)
    assert info.header_frames == 30 and info.frames < 30
    assert info.error.startswith("truncated: last packet is incomplete")


def test_forged_huge_size_is_not_decoded(tmp_path):
    path = make_forged_size_avi(tmp_path / "big.avi", 8000, 8000, frames=10)
    start = time.perf_counter()
    info = probe(path)
    assert time.perf_counter() - start < 1.0
    assert info.error is None
    assert (info.width, info.height, info.frames) == (8000, 8000, 10)


def test_forged_huge_size_truncated_is_not_decoded(tmp_path):
    path = make_forged_size_avi(tmp_path / "big.avi", 8000, 8000, frames=10)
    path.write_bytes(path.read_bytes()[: packet_offsets(path)[-3][0]])
    start = time.perf_counter()
    info = probe(path)
    assert time.perf_counter() - start < 1.0
    assert info.error == ("truncated: last packet not verified (frame too large to decode)"
                          " (7 of 10 frames)")


def test_forged_size_truncated_decodes_tail_and_fails(tmp_path):
    # Small enough to try: the 64x48 payloads cannot fill a declared 640x480 frame.
    path = make_forged_size_avi(tmp_path / "f.avi", 640, 480, frames=10)
    path.write_bytes(path.read_bytes()[: packet_offsets(path)[-3][0]])
    assert probe(path).error == "truncated: last packet does not decode (7 of 10 frames)"


def test_zero_bytes(tmp_path):
    info = probe(make_zero_byte(tmp_path / "z.mp4"))
    assert info.error == "zero bytes" and info.size_bytes == 0


def test_zero_bytes_does_not_import_av(tmp_path):
    path = make_zero_byte(tmp_path / "z.mp4")
    code = ("import sys; from cogvid_lint.probe.pyav import probe; "
            f"print(probe({str(path)!r}).error, 'av' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[-1] == "False"


def test_one_byte(tmp_path):
    path = tmp_path / "one.mp4"
    path.write_bytes(b"\x00")
    info = probe(path)
    assert info.error.startswith("not a video (") and info.size_bytes == 1


def test_text_named_mp4(tmp_path):
    assert probe(make_text(tmp_path / "notes.mp4")).error.startswith("not a video (")


def test_png_named_mp4(tmp_path):
    info = probe(make_png(tmp_path / "image.mp4"))
    assert info.error == "not a video (png_pipe image)"


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_audio_only(tmp_path, suffix):
    info = probe(make_audio_only(tmp_path / f"a{suffix}"))
    assert info.error == "no video stream" and info.has_audio is True


def test_directory_named_like_a_clip(tmp_path):
    (tmp_path / "clip.mp4").mkdir()
    assert probe(tmp_path / "clip.mp4").error == "not a regular file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    result = []
    worker = threading.Thread(target=lambda: result.append(probe(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert result and result[0].error == "not a regular file"


def test_missing_file(tmp_path):
    assert probe(tmp_path / "nope.mp4").error == "not found"


def test_accepts_str_and_pathlike(tmp_path):
    path = make_clip(tmp_path / "a.mp4", frames=3)
    assert probe(str(path)) == probe(path)
    assert probe(path).path == str(path)


def test_demux_error_midway_is_an_error():
    from cogvid_lint.probe import pyav as mod

    class Pkt:
        size, pts, dts, is_keyframe, is_corrupt = 10, 0, 0, True, False

    class Container:
        def demux(self, stream):
            yield Pkt()
            yield Pkt()
            raise av.error.InvalidDataError(1094995529, "Invalid data found")

    scan = mod._scan(av, Container(), None)
    assert scan.count == 2
    assert scan.error.startswith("demux failed after 2 packets")


def test_never_raises_on_unexpected_failure(tmp_path, monkeypatch):
    from cogvid_lint.probe import pyav as mod

    def boom(*_):
        raise RuntimeError("kaput")

    monkeypatch.setattr(mod, "_inspect", boom)
    info = probe(make_clip(tmp_path / "a.mp4", frames=2))
    assert info.error == "probe failed: RuntimeError: kaput"


def test_module_import_does_not_import_av():
    code = ("import sys; import cogvid_lint.probe.pyav; "
            "print('av' in sys.modules, 'decord' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_result_pickles(tmp_path):
    import pickle

    info = probe(make_clip(tmp_path / "a.webm", frames=4))
    assert pickle.loads(pickle.dumps(info)) == info


@pytest.fixture(scope="module")
def pristine_clips(tmp_path_factory):
    base = tmp_path_factory.mktemp("pristine")
    return {s: make_clip(base / f"p{s}", frames=12, rotation=90 if s == ".mp4" else 0,
                         width=64, height=32).read_bytes()
            for s in (".mp4", ".mkv", ".webm", ".avi")}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from([".mp4", ".mkv", ".webm", ".avi"]),
       edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=16)),
                      max_size=4),
       keep=st.floats(0.05, 1.0))
def test_damaged_clips_never_raise(tmp_path, pristine_clips, suffix, edits, keep):
    data = bytearray(pristine_clips[suffix])
    for where, junk in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(junk)] = junk
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(bytes(data[: max(1, int(len(data) * keep))]))
    info = probe(path)
    assert isinstance(info, VideoInfo)
    assert info.error is None or info.error.strip()
    if info.error is None:
        assert info.frames > 0 and info.width > 0 and info.height > 0


@pytest.mark.parametrize("suffix", [".webm", ".mkv"])
def test_streamed_matroska_without_duration(tmp_path, suffix):
    # MediaRecorder-style files: readable, but decord 0.6.0 aborts on the missing Duration
    path = make_clip(tmp_path / f"live{suffix}", frames=10, streamed=True)
    info = probe(path)
    assert info.frames == 10 and info.width == 64
    assert info.error == "no frame count or duration in header (decord cannot open it)"
    with pytest.raises(decord.DECORDError, match="broken metadata"):
        decord.VideoReader(str(path))


def test_clip_factory_marker_and_distinct_frames(tmp_path):
    path = make_clip(tmp_path / "m.mp4", width=64, height=48, frames=4, marker=True)
    vr = decord.VideoReader(str(path))
    frames = vr.get_batch([0, 1, 2, 3]).asnumpy()
    ys, xs = (frames[0].min(axis=-1) > 200).nonzero()
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 27, 28, 35)
    assert all((frames[i] != frames[i + 1]).any() for i in range(3))


def _encode(path: Path, codec: str, pix_fmt: str, fmt: str, options: dict) -> Path:
    """Five frames stored as `pix_fmt` (make_clip writes yuv420p only)."""
    import numpy as np

    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=8)
        vs.width, vs.height, vs.pix_fmt = 64, 48, pix_fmt
        vs.codec_context.options = {"threads": "1", **options}
        for i in range(5):
            img = np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


@pytest.mark.parametrize("codec,pix_fmt,fmt,options", [
    ("libx264", "yuv420p", "mp4", {}),
    ("libx264", "yuvj420p", "mp4", {}),  # full range: VUI flag
    ("libx264", "yuv422p", "matroska", {}),
    ("libx264", "yuv444p", "mp4", {"x264-params": "colormatrix=GBR"}),  # decodes as gbrp
    ("libx264", "yuv420p10le", "matroska", {"cqm": "jvt"}),  # scaling lists in the SPS
    ("libx264", "gray", "mp4", {}),  # monochrome decodes as 4:2:0
    ("libx264", "yuv420p", "avi", {}),  # Annex B parameter sets
    ("libvpx-vp9", "yuv420p", "webm", {"deadline": "realtime", "cpu-used": "8"}),
    ("libvpx-vp9", "yuv444p", "webm", {"deadline": "realtime", "cpu-used": "8"}),
    ("mpeg4", "yuv420p", "avi", {}),
    ("mpeg4", "yuv420p", "mov", {}),  # frame size only from a decoded frame
])
def test_pixel_format_from_headers_matches_decoder(tmp_path, codec, pix_fmt, fmt, options):
    # The probe opens without decoding and reads the pixel format from codec headers (or
    # falls back to decoding): the answer must be the decoder's.
    path = _encode(tmp_path / f"p.{fmt}", codec, pix_fmt, fmt, options)
    with av.open(str(path)) as container:
        decoded = container.streams.video[0].codec_context.pix_fmt
    info = probe(path)
    assert info.error is None, info.error
    assert (info.pix_fmt, info.frames, info.width, info.height) == (decoded, 5, 64, 48)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("keep_sps", [False, True])
def test_missing_parameter_sets_is_unknown_pixel_format(tmp_path, suffix, keep_sps):
    # x264 stores SPS/PPS only in the avcC record; without them no frame decodes, FFmpeg
    # never learns the pixel format and decord's filter graph refuses the clip.
    path = make_clip(tmp_path / f"nops{suffix}", frames=10)
    with av.open(str(path)) as container:
        avcc = container.streams.video[0].codec_context.extradata
    data = bytearray(path.read_bytes())
    at = data.find(avcc)
    if keep_sps:  # PPS count (after the one SPS) -> 0
        data[at + 8 + int.from_bytes(avcc[6:8], "big")] = 0
    else:  # SPS count -> 0 (and then the PPS count reads 0 as well)
        data[at + 5] = 0xE0
    path.write_bytes(bytes(data))
    info = probe(path)
    assert (info.frames, info.pix_fmt) == (10, None)
    assert info.error == "unknown pixel format (decord cannot open it)"
    with pytest.raises(decord.DECORDError, match="Cannot create buffer source"):
        decord.VideoReader(str(path))
