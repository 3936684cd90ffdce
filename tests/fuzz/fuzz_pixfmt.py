"""Fuzz the H.264 parameter-set reader (cogvid_lint/probe/pixfmt.py): h264_pix_fmt
answers a pixel format it maps or None, for avcC, Annex B and raw SPS bodies alike, and
never raises. Usage: see _harness.py."""

from __future__ import annotations

import _harness  # noqa: F401  (sys.path)
from seeds import pixfmt_seeds as seeds

FORMATS = {None, "gbrp", "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
           *(f"{p}{d}le" for p in ("gbrp", "yuv420p", "yuv422p", "yuv444p") for d in (9, 10, 12, 14))}


def load():
    from cogvid_lint.probe import pixfmt

    def one_input(data: bytes) -> None:
        assert pixfmt.h264_pix_fmt(data, 0, 2) in FORMATS
        # and the bytes as an SPS body, past the NAL framing
        try:
            fields = pixfmt._sps_fields(pixfmt._Bits(data), 1, 2)
        except ValueError:
            return
        assert len(fields) == 4 and all(isinstance(f, int) for f in fields)

    return one_input


if __name__ == "__main__":
    _harness.run("pixfmt", seeds, load)
