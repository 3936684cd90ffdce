"""Seed inputs for the fuzz harnesses and their pytest replays, all made here: real clips
written with PyAV (tests/clips.py), real safetensors files, list files and launch scripts
like the ones the tools meet, plus the hostile inputs of the findings they regress.

Nothing comes from outside the repository. Importable with tests/ on sys.path (pytest's
prepend mode does that; the harnesses add it themselves).
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

from clips import make_clip  # imports av first (see clips' docstring)

import av


class BitWriter:
    """An H.264 RBSP writer (MSB first), for parameter sets the tests shape by hand."""

    def __init__(self):
        self.bits: list[int] = []

    def u(self, value: int, n: int) -> BitWriter:
        self.bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))
        return self

    def ue(self, value: int) -> BitWriter:
        value += 1
        return self.u(0, value.bit_length() - 1).u(value, value.bit_length())

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        bits = self.bits + [1]  # rbsp_stop_one_bit, then zeros to the byte
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def baseline_sps(poc_cycle: int = 0, entries: int | None = None, *, width_mbs: int = 4, height_mbs: int = 3) -> bytes:
    """An SPS NAL (header byte included), Baseline profile, pic_order_cnt_type 1 with a
    cycle of `poc_cycle` declared and `entries` offsets written (default: as declared)."""
    w = BitWriter().u(66, 8).u(0, 8).u(30, 8).ue(0)  # profile, constraints, level, sps id
    w.ue(0).ue(1).u(0, 1).se(0).se(0).ue(poc_cycle)  # frame num, poc type 1, ...
    for _ in range(poc_cycle if entries is None else entries):
        w.se(0)
    w.ue(1).u(0, 1).ue(width_mbs - 1).ue(height_mbs - 1).u(1, 1).u(1, 1).u(0, 1).u(0, 1)
    return b"\x67" + escape_rbsp(w.rbsp())


def escape_rbsp(rbsp: bytes) -> bytes:
    """The NAL payload: an emulation-prevention 03 after any two zero bytes that a byte
    <= 03 follows (H.264 7.4.1), as an encoder writes it."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


PPS = b"\x68\xce\x3c\x80"


def annexb(*nals: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def avcc(sps: bytes, pps: bytes = PPS) -> bytes:
    return (bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps
            + b"\x01" + len(pps).to_bytes(2, "big") + pps)


def global_header_avi(path: Path, frames: int = 10) -> Path:
    """An AVI of libx264 frames whose SPS/PPS are only in the stream header, as Annex B
    with 4-byte start codes (`ffmpeg -c:v libx264 -flags +global_header x.avi`)."""
    import numpy as np

    with av.open(str(path), "w", format="avi") as out:
        vs = out.add_stream("libx264", rate=8)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.codec_context.flags |= av.codec.context.Flags.global_header
        vs.codec_context.options = {"threads": "1"}
        for i in range(frames):
            img = np.full((48, 64, 3), (i * 20) % 200, np.uint8)
            img[:, : 8 + i] = 230
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(vs.encode(None))
    return path


def with_extradata(src: Path, dst: Path, extradata: bytes) -> Path:
    """`src`'s video packets remuxed into `dst` (same container) under other codec
    extradata: how a forged or damaged header reaches the probe."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=inp.format.name.split(",")[0]) as out:
        ivs = inp.streams.video[0]
        ovs = out.add_stream_from_template(ivs)
        ovs.codec_context.extradata = extradata
        for packet in inp.demux(ivs):
            if packet.dts is None:
                continue
            packet.stream = ovs
            out.mux(packet)
    return dst


def extradata_of(path: Path) -> bytes:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.extradata or b""


# --- the seeds of each harness ------------------------------------------------------

def _clips(folder: Path) -> dict[str, Path]:
    return {
        "mp4": make_clip(folder / "a.mp4", frames=4),
        "mp4-faststart-rotated": make_clip(folder / "b.mp4", frames=4, rotation=90, width=64, height=32,
                                           faststart=True),
        "mov-audio": make_clip(folder / "c.mov", frames=4, audio_seconds=0.3),
        "mkv": make_clip(folder / "d.mkv", frames=4),
        "avi-global-header": global_header_avi(folder / "e.avi", frames=4),
    }


def nested_boxes(depth: int) -> bytes:
    """ftyp, then a moov holding a trak holding `depth` 8-byte boxes each inside the last
    (the walker's worst case: every byte a box header)."""
    inner = b""
    for _ in range(depth):
        inner = struct.pack(">I4s", 8 + len(inner), b"trak") + inner
    trak = inner
    moov = struct.pack(">I4s", 8 + len(trak), b"moov") + trak
    return struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 0) + moov


def flat_boxes(count: int) -> bytes:
    """A moov of `count` empty 8-byte trak boxes, side by side."""
    traks = struct.pack(">I4s", 8, b"trak") * count
    return struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 0) + struct.pack(">I4s", 8 + len(traks), b"moov") + traks


def mp4box_seeds() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        seeds = {name: path.read_bytes() for name, path in _clips(Path(tmp)).items() if path.suffix in (".mp4", ".mov")}
    seeds["nested-boxes"] = nested_boxes(64)
    seeds["flat-boxes"] = flat_boxes(2000)
    return seeds


def pixfmt_seeds() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        seeds = {name: extradata_of(path) for name, path in _clips(Path(tmp)).items()}
    seeds = {name: data for name, data in seeds.items() if data}
    seeds["annexb-3byte"] = b"\x00\x00\x01" + baseline_sps() + b"\x00\x00\x01" + PPS
    seeds["poc-cycle-255"] = avcc(baseline_sps(255))
    seeds["poc-cycle-2^32-2"] = annexb(baseline_sps(2**32 - 2, entries=4000), PPS)
    seeds["lone-start-code"] = b"\x00\x00\x00\x01"
    return seeds


def safetensors_bytes(tensors: dict) -> bytes:
    from safetensors.numpy import save

    return save(tensors)


def header_file(header: bytes | str, data: bytes = b"") -> bytes:
    raw = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(raw)) + raw + data


def safetensors_seeds() -> dict[str, bytes]:
    import numpy as np

    return {
        "latent": safetensors_bytes({"encoded_video": np.zeros((16, 13, 6, 8), np.float16)}),
        "prompt": safetensors_bytes({"prompt_embedding": np.ones((4, 8), np.float32)}),
        "metadata": header_file(json.dumps({"__metadata__": {"format": "pt"},
                                            "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}), b"\0" * 4),
        "deep-array": header_file("[" * 993 + "]" * 993),
        "long-integer": header_file('{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, ' + "9" * 4301 + "]}}"),
    }


def manifest_seeds() -> dict[str, bytes]:
    return {
        "plain": b"videos/a.mp4\nvideos/b.mp4\n",
        "crlf-bom": "\ufeffvideos/a.mp4\r\n\r\nvideos/b.mp4\r".encode(),
        "captions": "a cat on a mat, 4k\nTOK a dog \u00e9t\u00e9\n  \n".encode(),
        "escapes": b"videos/\x1b[31mred\x1b[0m.mp4\nvideos/\x1b]0;pwned\x07.mp4\n",
        "not-utf8": b"videos/caf\xe9.mp4\n",
    }


def launch_seeds() -> dict[str, bytes]:
    script = """#!/usr/bin/env bash
export MODEL_PATH="THUDM/CogVideoX-5b"
DATA_ROOT=/data/style  # comment
MODEL_ARGS=(
    --model_path "$MODEL_PATH"
    --model_name "cogvideox-t2v"
)
DATA_ARGS=(
    --data_root ${DATA_ROOT}
    --caption_column prompts.txt
    --video_column videos.txt
    --train_resolution "49x480x720"
)
accelerate launch train.py "${MODEL_ARGS[@]}" "${DATA_ARGS[@]}" \\
    --data_root=/data/second --model_name=cogvideox1.5-i2v
"""
    return {
        "cogvideo": script.encode(),
        "unbalanced-quote": b"--data_root 'unclosed\n--model_name x\n",
        "self-reference": b"A=$A$A\nB=${A}${A}\n--data_root $B\n",
        "doubling": b"A=xx\n" + b"A=$A$A\n" * 60 + b"--data_root $A\n",  # 2^61 bytes, expanded in full
    }
