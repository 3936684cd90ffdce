"""The mutated-clip corpus of the decord differential test (issue 17 item 11), and the
comparison of cogvid-lint's probe with decord's outcome on each clip.

Real clips of every container the trainers meet (written here with PyAV), damaged the
ways the issue found (an stts count of 2^31-1, an strh length of 2^32-1, a damaged
PixelWidth, an stbl size of -1, a damaged webm cluster) and at random with fixed seeds.
Run as a script to print the table: `python tests/decord_corpus.py [FOLDER]`.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

from clips import make_clip  # imports av before anything imports decord

import mutate as m
from decord_oracle import Outcome, ask

from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.pool import probe_many

FRAMES = 49
# Random mutations per base clip: half within the header (where a byte decides the
# verdict), half anywhere (mostly compressed data: decoders conceal it).
RANDOM_PER_BASE = 30


def base_clips(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clip = lambda name, **kw: make_clip(folder / name, frames=FRAMES, fps=8, **kw)  # noqa: E731
    return {
        "mp4": clip("base.mp4"),
        "mp4-faststart-audio": clip("base-fa.mp4", faststart=True, audio_seconds=2),
        "mov": clip("base.mov"),
        "mkv": clip("base.mkv"),
        "mkv-audio": clip("base-a.mkv", audio_seconds=2),
        "webm": clip("base.webm"),
        "webm-audio": clip("base-a.webm", audio_seconds=2),
        "avi": clip("base.avi"),
    }


def _header_end(data: bytes, kind: str) -> tuple[int, int]:
    """The byte range holding the container's header (where a random byte matters)."""
    if kind.startswith(("mp4", "mov")):
        _, payload, end = m.bmff_box(data, "moov")
        return payload, end
    if kind.startswith(("mkv", "webm")):
        first_cluster = m.ebml_element(data, m.CLUSTER)[0]
        return 0, first_cluster + 16
    return 0, m.riff_chunk(data, b"movi") + 16  # avi: hdrl, then the first chunk headers


def _named(kind: str) -> list[tuple[str, object, tuple]]:
    """The damage the issue names, and its neighbours, for a base clip of `kind`."""
    if kind.startswith(("mp4", "mov")):
        return [("stts-2^31-1", m.set_stts_count, (2**31 - 1,)),
                ("stts-2^32-1", m.set_stts_count, (2**32 - 1,)),
                ("stts-10^6", m.set_stts_count, (10**6,)),
                ("stbl-size-(-1)", m.set_box_size, ("minf/stbl", -1)),
                ("stbl-size-0", m.set_box_size, ("minf/stbl", 0)),
                ("stbl-size-7", m.set_box_size, ("minf/stbl", 7))]
    if kind.startswith(("mkv", "webm")):
        out = [(f"pixelwidth-size-{b:02x}", m.damage_ebml_size, (m.PIXEL_WIDTH, b)) for b in (0x00, 0x88, 0xFF)]
        out += [(f"pixelwidth-{v}", m.set_ebml_uint, (m.PIXEL_WIDTH, v)) for v in (0, 1)]
        out += [(f"cluster-size-{b:02x}", m.damage_ebml_size, (m.CLUSTER, b)) for b in (0x00, 0x01, 0x40, 0x88, 0xFF)]
        return out
    return [("strh-2^32-1", m.set_strh_length, (2**32 - 1,)),
            ("strh-2^31-1", m.set_strh_length, (2**31 - 1,)),
            ("strh-10^6", m.set_strh_length, (10**6,))]


def _random(data: bytearray, seed: str, region: tuple[int, int] | None) -> bytearray:
    rng = random.Random(seed)  # a str seed is hashed with sha512: the same on every run
    lo, hi = region or (0, len(data))
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(lo, hi)] = rng.randrange(256)
    return data


def build_corpus(folder: Path, random_per_base: int = RANDOM_PER_BASE) -> dict[str, Path]:
    """name -> clip: the base clips, their named damage and their random mutations."""
    corpus: dict[str, Path] = {}
    for kind, src in base_clips(folder / "base").items():
        corpus[kind] = src
        ext = src.suffix
        for name, fn, args in _named(kind):
            corpus[f"{kind}/{name}"] = m.mutated(src, folder / f"{kind}-{name}{ext}", fn, *args)
        data = src.read_bytes()
        header = _header_end(data, kind)
        for i in range(random_per_base):
            region = header if i % 2 == 0 else None
            name = f"random-{'header' if region else 'any'}-{i}"
            corpus[f"{kind}/{name}"] = m.mutated(src, folder / f"{kind}-{name}{ext}", _random,
                                                 f"{kind}-{i}", region)
    return corpus


@dataclass(frozen=True)
class Row:
    name: str
    decord: Outcome
    lint: VideoInfo

    @property
    def container(self) -> str:
        return self.name.split("/")[0].split("-")[0]

    @property
    def lint_crash(self) -> bool:
        return bool(self.lint.error) and "decord would crash" in self.lint.error

    def disagreement(self) -> str | None:
        """Why the probe's verdict is not decord's, or None when they agree."""
        d, info = self.decord, self.lint
        if d.kind == "crashed":
            return None if self.lint_crash else "decord crashes; the probe does not say so"
        if self.lint_crash:
            return f"the probe predicts a crash; decord: {d}"
        if d.reads_completely:
            if info.error is not None:
                return f"decord reads {d.frames} frames; the probe: {info.error}"
            if info.frames != d.frames:
                return f"decord reads {d.frames} frames; the probe counts {info.frames}"
            return None
        if info.error is None:
            return f"decord: {d}; the probe calls it readable ({info.frames} frames)"
        return None


def compare(corpus: dict[str, Path], jobs: int = 2) -> list[Row]:
    names = list(corpus)
    paths = [str(corpus[n]) for n in names]
    decord = ask(paths)
    infos = probe_many(paths, jobs=jobs)
    return [Row(n, decord[p], info) for n, p, info in zip(names, paths, infos)]


if __name__ == "__main__":
    import tempfile

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    rows = compare(build_corpus(folder))
    per: dict[str, list[int]] = {}
    for row in rows:
        why = row.disagreement()
        tally = per.setdefault(row.container, [0, 0])
        tally[0] += 1
        tally[1] += why is not None
        print(f"{'DIFF' if why else 'ok  '} {row.name:40} decord: {str(row.decord)[:60]:60} "
              f"probe: {row.lint.error or f'{row.lint.frames} frames'}")
    for container, (total, bad) in sorted(per.items()):
        print(f"{container}: {bad} of {total} disagree")
