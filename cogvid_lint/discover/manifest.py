"""Read caption/video/image list files exactly the way CogVideo's trainer does.

The trainer opens them as UTF-8 text (universal newlines) and keeps
`line.strip()` for every line whose stripped text is not empty; a video line is joined
onto the folder that holds the list file. finetrainers (`keep_blank`) reads them with
`f.read().splitlines()`: every line kept as written, blank ones too.
"""

from __future__ import annotations

from pathlib import Path

from cogvid_lint.discover.project import Manifest, ManifestLine

MAX_MANIFEST_BYTES = 512 * 1024 * 1024


def read_manifest(path: Path, keep_blank: bool = False) -> Manifest:
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return Manifest(path, error=f"larger than {MAX_MANIFEST_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        return Manifest(path, error=f"cannot read: {exc.strerror or exc}")
    return parse_manifest_bytes(path, data, keep_blank)


def parse_manifest_bytes(path: Path, data: bytes, keep_blank: bool = False) -> Manifest:
    """A list file's bytes as the trainer reads them (read_manifest's, wherever they came from)."""
    nul = data.find(b"\x00")
    if nul >= 0:
        return Manifest(path, error=f"contains a NUL byte at offset {nul}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Manifest(path, error=f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}"
                        " (the trainer reads it as UTF-8 and will crash)")
    if keep_blank:
        return parse_kept_lines(path, text)
    return parse_manifest_text(path, text)


def parse_kept_lines(path: Path, text: str) -> Manifest:
    """`text.splitlines()` (which also ends lines at \\v, \\f, \\x1c-\\x1e, \\x85, \\u2028,
    \\u2029): one entry per line, not stripped, a blank one included."""
    lines = text.splitlines()
    entries = tuple(ManifestLine(path, number, line) for number, line in enumerate(lines, start=1))
    blanks = tuple(number for number, line in enumerate(lines, start=1) if not line.strip())
    return Manifest(path, entries, blanks, has_bom=text.startswith("\ufeff"), keeps_blank=True)


def parse_manifest_text(path: Path, text: str) -> Manifest:
    has_bom = text.startswith("\ufeff")
    # Text mode's universal newlines: \r\n and a lone \r both end a line, nothing else does.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    entries = []
    blanks = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped:
            entries.append(ManifestLine(path, number, stripped))
        else:
            blanks.append(number)
    return Manifest(path, tuple(entries), tuple(blanks), has_bom=has_bom)
