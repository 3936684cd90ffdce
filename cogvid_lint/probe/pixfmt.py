"""The pixel format a decoder will produce, read from the codec's headers without decoding.

FFmpeg learns it by decoding the first frames while it reads stream info, which costs as
much as decord's whole open; the probe opens with no decoder (see pyav) and asks here.
"""

from __future__ import annotations

import functools

DECODE = object()  # "only a decoded frame tells"
# Profiles that fix the decoder's output format (the profile comes from the codec's
# parser, which has then read the headers a decoder needs). MPEG-4 Part 2 decodes to
# 4:2:0 in all but its Studio profiles.
_PROFILE_PIX_FMT = {("vp9", "Profile 0"): "yuv420p", ("mpeg4", "Simple Profile"): "yuv420p",
                    ("mpeg4", "Advanced Simple Profile"): "yuv420p"}


def header_pix_fmt(vs):
    """The video stream's pixel format as the headers give it; DECODE when the header
    open left something that only decoding tells (or that probing might guess)."""
    cc = vs.codec_context if vs is not None else None
    if cc is None:
        return None  # _inspect reports why
    if cc.width <= 0 or cc.height <= 0 or not vs.average_rate:
        # MPEG-4 Part 2 in mov takes its size from a decoded frame; without a header rate
        # our fps falls back to FFmpeg's guess, which decoding informs
        return DECODE
    if cc.pix_fmt:
        return cc.pix_fmt
    if cc.name == "h264":
        extradata = cc.extradata or b""
        small = len(extradata) <= _REMEMBER_BYTES
        parse = _remembered_h264_pix_fmt if small else h264_pix_fmt
        return parse(extradata, int(cc.color_range), int(cc.colorspace)) or DECODE
    return _PROFILE_PIX_FMT.get((cc.name, cc.profile), DECODE)


# --- H.264 sequence parameter set --------------------------------------------------
# What FFmpeg's h264 decoder picks as the pixel format (h264_slice.c get_pixel_format)
# follows from three SPS fields, so it can be known without decoding a picture.
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
_CHROMA = {0: "420", 1: "420", 2: "422", 3: "444"}  # monochrome decodes as 4:2:0
_RANGE_JPEG, _SPC_RGB = 2, 0  # AVCOL_RANGE_JPEG, AVCOL_SPC_RGB
# Limits FFmpeg's SPS parser (h264_ps.c) enforces: an SPS past them fails to decode.
_MAX_SPS_ID, _MAX_POC_CYCLE = 32, 256  # MAX_SPS_COUNT, FF_ARRAY_ELEMS(offset_for_ref_frame)


class _Bits:
    """An RBSP read MSB first. Each read touches only the few bytes it spans, so a parse
    costs in proportion to the bits it reads, however long the NAL unit is."""

    def __init__(self, data: bytes):
        self.data, self.pos, self.end = data, 0, len(data) * 8

    def u(self, n: int) -> int:
        if n > self.end - self.pos:
            raise ValueError("SPS ends early")
        first, stop = self.pos >> 3, (self.pos + n + 7) >> 3
        chunk = int.from_bytes(self.data[first:stop], "big")  # <= 5 bytes: n <= 32
        self.pos += n
        return (chunk >> ((stop << 3) - self.pos)) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _sps_nal(extradata: bytes) -> bytes | None:
    """The first SPS NAL unit of avcC (mp4/mkv) or Annex B (start codes) extradata, if a
    PPS comes with it: without both, slice headers cannot be read (decoding fails unless
    the stream repeats them in band), so only decoding can tell."""
    if len(extradata) > 8 and extradata[0] == 1:
        pos, nals = 5, []
        for mask in (0x1F, 0xFF):  # SPS count (low 5 bits), then PPS count
            if pos >= len(extradata):
                return None
            count, pos = extradata[pos] & mask, pos + 1
            for _ in range(count):
                n = int.from_bytes(extradata[pos:pos + 2], "big")
                nals.append(extradata[pos + 2:pos + 2 + n])
                pos += 2 + n
        nals = [nal for nal in nals if nal]
    else:
        # a 4-byte start code (00 00 00 01) leaves a lone zero before the first NAL:
        # strip the zeros before dropping what is empty
        nals = [nal for nal in (part.rstrip(b"\x00") for part in extradata.split(b"\x00\x00\x01")) if nal]
    sps = [nal for nal in nals if nal[0] & 0x1F == 7]
    return sps[0] if sps and any(nal[0] & 0x1F == 8 for nal in nals) else None


def h264_pix_fmt(extradata: bytes, color_range: int, colorspace: int) -> str | None:
    """The pixel format FFmpeg's h264 decoder will output, read from the SPS; None when
    there is no SPS or it is one we do not map (monochrome, mixed bit depths, ...).
    `color_range`/`colorspace` are the container's, which the SPS's VUI overrides."""
    nal = _sps_nal(extradata or b"")
    if not nal:
        return None
    try:
        chroma, depth, color_range, colorspace = _sps_fields(
            _Bits(nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")), color_range, colorspace)
    except ValueError:
        return None
    if chroma not in _CHROMA or depth not in (8, 9, 10, 12, 14):
        return None
    rgb = chroma == 3 and colorspace == _SPC_RGB
    if depth == 8:
        if rgb:
            return "gbrp"
        return f"yuv{'j' if color_range == _RANGE_JPEG else ''}{_CHROMA[chroma]}p"
    return f"gbrp{depth}le" if rgb else f"yuv{_CHROMA[chroma]}p{depth}le"


# A dataset's clips mostly come from one encoder with one set of parameters, so the same
# SPS recurs: remembered, it is parsed once per worker rather than once per clip (an
# outsized extradata, a damaged or forged file, is parsed but not kept).
_REMEMBER_BYTES = 4096
_remembered_h264_pix_fmt = functools.lru_cache(maxsize=256)(h264_pix_fmt)


def _sps_fields(b: _Bits, color_range: int, colorspace: int) -> tuple[int, int, int, int]:
    profile = b.u(8)
    b.u(16)  # constraint flags, level
    if b.ue() >= _MAX_SPS_ID:
        raise ValueError("sps id out of range")
    chroma, depth = 1, 8
    if profile in _HIGH_PROFILES:
        chroma = b.ue()
        if chroma > 3:
            raise ValueError("chroma_format_idc out of range")
        if chroma == 3 and b.u(1):
            return -1, 0, color_range, colorspace  # separate planes: unsupported
        depth = b.ue() + 8
        if b.ue() + 8 != depth:
            return -1, 0, color_range, colorspace  # FFmpeg refuses mixed depths
        b.u(1)  # qpprime_y_zero_transform_bypass
        if b.u(1):  # scaling matrices: skipped, but their length varies
            for i in range(12 if chroma == 3 else 8):
                if b.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + b.se()) % 256
                        last = nxt or last
    b.ue()  # log2_max_frame_num
    poc_type = b.ue()
    if poc_type == 0:
        b.ue()
    elif poc_type == 1:
        b.u(1)
        b.se(), b.se()
        cycle = b.ue()
        if cycle >= _MAX_POC_CYCLE:  # FFmpeg refuses the SPS: only decoding tells then
            raise ValueError("poc cycle too long")
        for _ in range(cycle):
            b.se()
    elif poc_type != 2:
        raise ValueError("pic_order_cnt_type out of range")
    b.ue(), b.u(1), b.ue(), b.ue()  # refs, gaps, width and height in macroblocks
    if not b.u(1):  # frame_mbs_only
        b.u(1)
    b.u(1)  # direct_8x8_inference
    if b.u(1):  # cropping
        b.ue(), b.ue(), b.ue(), b.ue()
    if b.u(1):  # VUI
        if b.u(1) and b.u(8) == 255:  # aspect ratio, extended SAR
            b.u(32)
        if b.u(1):  # overscan
            b.u(1)
        if b.u(1):  # video signal type
            b.u(3)
            color_range = _RANGE_JPEG if b.u(1) else 1
            if b.u(1):
                b.u(16)  # primaries, transfer
                colorspace = b.u(8)
    return chroma, depth, color_range, colorspace
