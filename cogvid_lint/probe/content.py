"""The content stage: one decode per clip of exactly the frames its trainer takes, reduced
to gray, and the features the pixel rules (CVL5xx) judge. Features, never verdicts: every
threshold is a rule parameter, so changing one never decodes again.

`content(path, indices, rotation) -> ContentFeatures` never raises; it runs in the probe
pool's workers (crash and timeout isolation), one clip a job. How it decodes, the
cheapest way that gives the frames decord gives (measured in /work/shared/content.md §3.1):

* seek once per GOP that holds a sampled frame, when the stride between samples exceeds
  the GOP (3.5x on a 900-frame clip, nothing at stride <= GOP), skipping unsampled
  non-reference frames inside it as below;
* otherwise sequentially, with the packets of unsampled non-reference frames skipped
  (`skip_frame=NONREF`: exact, 30-35 % cheaper on x264 with B-frames);
* AVI always plainly sequentially: seeking returns wrong frames on packed B-frames.

Frames are identified by their rank in presentation order (decord's index), from one
demux pass over the packets' timestamps; a clip whose timestamps cannot rank its packets
(missing or repeated) is decoded sequentially and its frames counted.

Tiers: when every selected pixel rule needs less than the trainer's frames, less is
decoded (TIERS). `first`: the first sampled frame alone (CVL506, black first frame).
`keyframes`: the first sampled frame and up to KEYFRAMES keyframes inside the sampled
window, every other packet skipped (CVL502, bars: they stand still, and a keyframe costs
no other frame's decode); when none of them is lit, or one does not decode, or the
clip's keyframes cannot be ranked (AVI, no timestamps), the full decode instead. A row
says its tier (ContentFeatures.tier); a rule reads only rows of its tier or a fuller one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path

# The reduced frame: its long side (the research's 160-px gray; a smaller clip is not enlarged).
SIDE = 160
# A frame whose 98th percentile is at most this is black: FFmpeg blackdetect's definition
# (pix_th 0.10 of limited range = 25 on the full-range gray we decode, pic_th 0.98). Only
# lit frames say where a clip's bars are.
LIT_LUMA = 25
# Rows and columns at the edge whose brightest pixel is at most this are bars: cropdetect's
# limit 24 on limited-range luma is ~9.3 on full-range gray (content.md §3.3). The picture
# inside them is where motion, histograms and the hash are measured (bars dilute them);
# the bar rule itself re-derives bars from the stored profiles with its own parameter.
BOX_LUMA = 10
# A pixel "changed" between two samples when it moved by at least this many levels: above
# the encoder's noise on a still picture, below any visible motion.
CHANGE_LEVEL = 12
HIST_BINS = 32
PERCENTILES = (1, 5, 50, 95, 99)
_AVI = "avi"
# What a decode covers, least first: a row of a tier answers every rule needing it or less.
TIERS = ("first", "keyframes", "full")
# The keyframes tier's most keyframes, spread over the window: bars stand still, and a
# keyframe is the dearest frame to decode (one I-frame of a 720p texture: ~15 P-frames).
KEYFRAMES = 8


@dataclass(frozen=True)
class ContentFeatures:
    """What the pixel rules read of one clip: per sampled frame, per step between two, and
    for the clip. Frames are the unique sampled indices, ascending (padding repeats none)."""

    path: str
    error: str | None = None
    indices: tuple[int, ...] = ()  # the sampled frames decoded (decord's indices)
    width: int = 0  # the reduced frame, display orientation
    height: int = 0
    mode: str = ""  # seek | nonref | seq | key (the keyframes tier)
    means: tuple[float, ...] = ()  # per frame: mean luma (0-255)
    p98: tuple[int, ...] = ()  # per frame: 98th percentile luma (black: <= LIT_LUMA)
    stds: tuple[float, ...] = ()  # per frame: luma σ inside the picture
    diffs: tuple[float, ...] = ()  # per step: mean |Δ| inside the picture
    changed: tuple[float, ...] = ()  # per step: share of picture pixels changed by >= CHANGE_LEVEL
    hists: tuple[float, ...] = ()  # per step: total-variation distance of 32-bin histograms
    row_max: tuple[int, ...] = ()  # per row, over lit frames: the brightest pixel (bars: dark rows)
    col_max: tuple[int, ...] = ()  # per column, likewise
    percentiles: tuple[int, ...] = ()  # the picture's luma at PERCENTILES, over every frame
    phash: str = ""  # 64-bit DCT hash of the mean sampled picture, 16 hex digits
    tier: str = "full"  # TIERS: which frames `indices` are (full: the sampled ones)

    @property
    def readable(self) -> bool:
        return self.error is None


def failed(job: tuple, reason: str) -> ContentFeatures:
    """The answer for a job whose worker crashed or hung (the pool's contract, worker.py)."""
    return ContentFeatures(path=job[0], error=reason)


def warm_up() -> None:
    import av  # noqa: F401
    import numpy  # noqa: F401


def content(path: str, indices: tuple[int, ...] | list[int], rotation: int = 0,
            mode: str | None = None, strip: tuple | None = None, tier: str = "full"):
    """The features of `path`'s frames at `indices` (any order, repeats allowed), or of the
    part of them `tier` names (TIERS; the answer's `tier` says which it is); never raises.

    `strip` = (chosen indices, tile width, tile height): also the report's thumbnail strip
    of those frames (thumbs.py), made from the same decode (the full one: a lesser tier
    decodes too few of them); the answer is then the pair (ContentFeatures, ThumbStrip)."""
    if strip is None:
        return _tiered(path, indices, rotation, mode, tier)
    from cogvid_lint.probe import thumbs

    chosen, size = tuple(int(i) for i in strip[0]), (int(strip[1]), int(strip[2]))
    tiles: dict = {}
    wanted = set(chosen)

    def also(frame, r: int) -> None:
        if r in wanted and r not in tiles:
            tiles[r] = thumbs.tile(frame, size, int(rotation) % 360)

    features = _tiered(path, indices, rotation, mode, "full", also)  # chosen: a subset of indices
    try:
        made = thumbs.compose(path, chosen, size, tiles) if chosen else thumbs.ThumbStrip(path, error="no frames")
    except Exception as exc:  # noqa: BLE001 - the features stand without their strip
        made = thumbs.ThumbStrip(path, error=f"strip failed: {type(exc).__name__}: {exc}"[:300])
    return features, made


def _tiered(path: str, indices, rotation: int = 0, mode: str | None = None, tier: str = "full",
            also=None) -> ContentFeatures:
    try:
        wanted = sorted({int(i) for i in indices if int(i) >= 0})
        if not wanted:
            return ContentFeatures(path=path, error="no frames to decode")
        if tier not in TIERS:
            return ContentFeatures(path=path, error=f"unknown content tier {tier!r}")
        if tier != "full":
            item = _content(path, wanted, int(rotation) % 360, tier, mode, also)
            if item.error is None and (item.tier != "keyframes" or max(item.p98) > LIT_LUMA):
                return item
            # the keyframes show no lit picture, or a frame did not decode: the full decode says
        return _content(path, wanted, int(rotation) % 360, "full", mode, also)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises": report as data
        return ContentFeatures(path=path, error=f"decode failed: {type(exc).__name__}: {exc}"[:300])


def _content(path: str, wanted: list[int], rotation: int, tier: str, mode: str | None,
             also=None) -> ContentFeatures:
    frames, got, mode, asked, tier = _decode(path, wanted, rotation, mode, tier, also)
    if not frames:
        return ContentFeatures(path=path, error="no sampled frame decodes", mode=mode)
    if len(got) < len(asked):
        missing = sorted(set(asked) - set(got))
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        return ContentFeatures(path=path, error=f"{len(missing)} sampled frame(s) do not decode ({shown})",
                               mode=mode)
    return features(path, frames, tuple(got), mode, tier)


def tier_frames(tier: str, wanted: list[int], key_ranks: list[int]) -> list[int]:
    """The frames (ranks) a decode of `tier` covers of the sampled `wanted` (ascending), given
    the clip's keyframes: all of them (full), the first (first), or the first and up to
    KEYFRAMES keyframes from the first to the last sampled frame, spread evenly (keyframes)."""
    if tier == "first":
        return wanted[:1]
    if tier != "keyframes":
        return wanted
    inside = [k for k in key_ranks if wanted[0] <= k <= wanted[-1]]
    if len(inside) > KEYFRAMES:
        inside = [inside[round(i * (len(inside) - 1) / (KEYFRAMES - 1))] for i in range(KEYFRAMES)]
    return sorted({wanted[0], *inside})


def _pick_stream(container):
    for s in container.streams.video:
        disposition = s.disposition
        if not (disposition & type(disposition).attached_pic):
            return s
    return None


def _open(av, path: str):
    """The container, opened without FFmpeg decoding frames to learn the stream's
    parameters (codec_whitelist=none: 20 ms of a 720p clip's open) when the headers give
    them, else as usual."""
    container = av.open(path, metadata_errors="ignore", container_options={"codec_whitelist": "none"})
    vs = _pick_stream(container)
    if vs is not None and vs.codec_context is not None and vs.codec_context.width > 0:
        return container, vs
    container.close()
    container = av.open(path, metadata_errors="ignore")
    return container, _pick_stream(container)


def _decode(path: str, wanted: list[int], rotation: int, mode: str | None = None, tier: str = "full",
            also=None):
    """(gray frames, their indices, mode, the indices asked for, tier): of the frames of
    `tier` (tier_frames) of the sampled `wanted`, those that decode, in order. The
    keyframes tier falls to full where keyframes cannot be ranked. `mode` forces seek,
    nonref or seq where the clip allows it (tests compare them); `also(frame, index)` sees
    each kept frame as decoded (the report's thumbnails)."""
    import av
    import numpy as np
    from av.video.reformatter import VideoReformatter

    container, vs = _open(av, path)
    with container:
        if vs is None:
            raise ValueError("no video stream")
        stamps, keys = [], []
        for pkt in container.demux(vs):  # timestamps only: no decoding (~1 ms per 100 packets)
            if pkt.size <= 0:
                continue
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            stamps.append(ts)
            keys.append(pkt.is_keyframe)
        avi = container.format.name == _AVI
        rank = None
        if None not in stamps and len(set(stamps)) == len(stamps):
            rank = {ts: r for r, ts in enumerate(sorted(stamps))}
        wanted = [w for w in wanted if w < len(stamps)]
        if not wanted:
            return [], [], "seq", [], tier
        forced, mode = mode, "seq"
        key_ranks: list[int] = []
        if rank is not None and not avi:
            key_ranks = sorted(rank[ts] for ts, key in zip(stamps, keys) if key)
            wanted = tier_frames(tier, wanted, key_ranks)
            gop = len(stamps) / max(len(key_ranks), 1)
            stride = (wanted[-1] - wanted[0]) / (len(wanted) - 1) if len(wanted) > 1 else 0
            mode = "seek" if (stride > gop or tier == "first") and key_ranks else "nonref"
            if tier == "keyframes":
                mode = "key"
            elif forced is not None and (forced != "seek" or key_ranks):
                mode = forced
        else:  # counted frames: no keyframe is known by its index, the first frame is
            tier = "first" if tier == "first" else "full"
            wanted = tier_frames(tier, wanted, [])
        by_rank = {r: ts for ts, r in rank.items()} if rank is not None else {}
        shape: list[int] = []
        out: dict[int, object] = {}
        scaler = VideoReformatter()  # one for every frame: its scaling context is made once

        def keep(frame, r: int) -> None:
            if also is not None:
                also(frame, r)
            if not shape:
                shape.extend(_reduced(frame.width, frame.height, rotation))
            img = reduce_frame(scaler, frame, shape[0], shape[1])
            if rotation:
                img = np.rot90(img, k=-(rotation // 90))  # decord turns clockwise
            out[r] = np.ascontiguousarray(img)

        cc = vs.codec_context
        cc.thread_count = 1  # workers run in parallel already (content.md: threads save no CPU)
        container.seek(0)  # back to the start after the timestamp pass (one open, not two)
        if mode == "seq":
            _sequential(container, vs, wanted, keep)
        elif mode == "nonref":
            _skipping(container, vs, cc, wanted, rank, keep)
        elif mode == "key":  # the first sampled frame (and what it refers to), then keyframes alone
            _decode_wanted(container, vs, cc, set(wanted), rank, keep, lead=wanted[0])
        else:
            _seeking(container, vs, wanted, rank, by_rank, key_ranks, keep)
    got = [w for w in wanted if w in out]
    return [out[w] for w in got], got, mode, wanted, tier


def reduce_frame(scaler, frame, width: int, height: int):
    """A decoded frame as a `width` x `height` full-range gray array: swscale's area average
    (no aliasing at 8x, and 0.25 ms at 720p with a reused context against 0.9 ms bilinear)."""
    return scaler.reformat(frame, width=width, height=height, format="gray", interpolation="AREA").to_ndarray()


def _reduced(stored_w: int, stored_h: int, rotation: int) -> tuple[int, int]:
    """The stored frame's reduced size (w, h): the display's long side to SIDE, aspect kept."""
    scale = min(1.0, SIDE / max(stored_w, stored_h, 1))
    return max(2, round(stored_w * scale)), max(2, round(stored_h * scale))


def _sequential(container, vs, wanted: list[int], keep) -> None:
    """Every frame in order, counted; stops after the last wanted one."""
    todo, last, n = set(wanted), wanted[-1], 0
    for frame in _frames(container, vs):
        if n in todo:
            keep(frame, n)
        n += 1
        if n > last:
            return


def _skipping(container, vs, cc, wanted: list[int], rank: dict, keep) -> None:
    """In order, the packets of unsampled frames decoded with skip_frame=NONREF (a frame
    another refers to is decoded all the same); frames known by their timestamp's rank."""
    _decode_wanted(container, vs, cc, set(wanted), rank, keep)


def _seeking(container, vs, wanted: list[int], rank: dict, by_rank: dict, key_ranks: list[int], keep) -> None:
    """One seek per GOP that holds wanted frames, decoding forward inside it, the packets of
    unwanted non-reference frames skipped as in _skipping."""
    from bisect import bisect_right

    groups: dict[int, list[int]] = {}
    for w in wanted:
        at = bisect_right(key_ranks, w) - 1
        groups.setdefault(key_ranks[at] if at >= 0 else key_ranks[0], []).append(w)
    cc = vs.codec_context
    for key_rank, members in groups.items():
        container.seek(by_rank[key_rank], stream=vs, backward=True, any_frame=False)
        _decode_wanted(container, vs, cc, set(members), rank, keep)


def _decode_wanted(container, vs, cc, todo: set[int], rank: dict, keep, lead: int | None = None) -> None:
    """Decode forward from where the container stands until every frame of `todo` (ranks)
    is kept or the stream ends. Packets of frames not wanted are decoded only when another
    frame refers to them (skip_frame=NONREF); with `lead` (the keyframes tier: `todo` is
    `lead` and keyframes, which refer to no other frame), only until the packet of frame
    `lead` is sent (what it refers to comes before it in decode order), and not at all
    after it (skip_frame=ALL). Once the last wanted packet is sent the
    decoder is drained: feeding it more packets only to push that frame out of its reorder
    delay would decode frames nobody wants (a seek flushes it for the next group)."""
    import av

    unsent = set(todo)
    for pkt in container.demux(vs):
        end = pkt.size <= 0
        if not end:
            r = rank.get(pkt.pts if pkt.pts is not None else pkt.dts)
            if r in todo:
                cc.skip_frame = "DEFAULT"
                unsent.discard(r)
            else:
                cc.skip_frame = "NONREF" if lead is None or lead in unsent else "ALL"
        drain = end or not unsent
        decoded: list = []
        for sent in (None,) if end else (pkt, None) if drain else (pkt,):
            try:
                decoded += cc.decode(sent)
            except av.error.FFmpegError:
                pass  # a damaged frame: the ones after it may still decode
        for frame in decoded:
            r = rank.get(frame.pts)
            if r in todo:
                todo.discard(r)
                keep(frame, r)
        if not todo or drain:
            return


def _frames(container, vs):
    import av

    for pkt in container.demux(vs):
        try:
            yield from vs.codec_context.decode(pkt if pkt.size > 0 else None)
        except av.error.FFmpegError:
            continue


def features(path: str, frames: list, indices: tuple[int, ...], mode: str, tier: str = "full") -> ContentFeatures:
    """The features of gray `frames` (the samples at `indices`)."""
    import numpy as np

    stack = np.stack(frames)  # n x h x w uint8
    n, h, w = stack.shape
    hist = np.stack([np.bincount(f.ravel(), minlength=256) for f in stack]).astype(np.int64)
    cum = np.cumsum(hist, axis=1)
    p98 = (cum < 0.98 * h * w).sum(axis=1)
    means = (hist * np.arange(256)).sum(axis=1) / (h * w)
    lit = p98 > LIT_LUMA
    bright = stack[lit] if lit.any() else stack
    row_max = bright.max(axis=(0, 2))
    col_max = bright.max(axis=(0, 1))
    top, bottom = _edge_run(row_max), _edge_run(row_max[::-1])
    left, right = _edge_run(col_max), _edge_run(col_max[::-1])
    if top + bottom >= h or left + right >= w:  # all dark: the whole frame is the picture
        top = bottom = left = right = 0
    picture = stack[:, top:h - bottom, left:w - right]
    signed = picture.astype(np.int16)
    stds = signed.reshape(n, -1).std(axis=1)
    step = np.abs(np.diff(signed, axis=0)) if n > 1 else np.zeros((0, 1, 1), np.int16)
    diffs = step.reshape(len(step), -1).mean(axis=1) if n > 1 else np.zeros(0)
    changed = (step >= CHANGE_LEVEL).reshape(len(step), -1).mean(axis=1) if n > 1 else np.zeros(0)
    # the picture's 256-level histograms: the frame's when there are no bars; 32 bins are
    # sums of 8 levels (the counts `f >> 3` would give, from one bincount instead of two)
    framed = top or bottom or left or right
    levels = np.stack([np.bincount(f.ravel(), minlength=256) for f in picture]) if framed else hist
    bins = levels.reshape(n, HIST_BINS, 256 // HIST_BINS).sum(axis=2).astype(np.float64)
    bins /= bins.sum(axis=1, keepdims=True)
    hists = 0.5 * np.abs(np.diff(bins, axis=0)).sum(axis=1)
    total = np.cumsum(levels.sum(axis=0))
    percentiles = [int(np.searchsorted(total, total[-1] * q / 100)) for q in PERCENTILES]
    return ContentFeatures(
        path=path, indices=tuple(int(i) for i in indices), width=int(w), height=int(h), mode=mode,
        means=_round(means), p98=tuple(int(v) for v in p98), stds=_round(stds), diffs=_round(diffs),
        changed=_round(changed, 4), hists=_round(hists, 4), row_max=tuple(int(v) for v in row_max),
        col_max=tuple(int(v) for v in col_max), percentiles=tuple(percentiles),
        phash=phash(picture.mean(axis=0)), tier=tier)


def _edge_run(profile) -> int:
    """How many leading entries of `profile` are at most BOX_LUMA."""
    import numpy as np

    above = np.flatnonzero(profile > BOX_LUMA)
    return int(above[0]) if len(above) else len(profile)


def _round(values, digits: int = 2) -> tuple[float, ...]:
    return tuple(round(float(v), digits) for v in values)


def phash(image) -> str:
    """imagehash.phash's bits (hash_size 8, a 32x32 DCT-II, low 8x8 against their median) in
    numpy: the image is area-averaged to 32x32 where imagehash uses PIL's LANCZOS, which
    moves ~2 of 64 bits (content.md §3.3); the DCT and the median are the same."""
    import numpy as np

    small = _area_resize(np.asarray(image, dtype=np.float64), 32)
    k = np.arange(32)
    basis = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 64)  # DCT-II, rows = frequency
    dct = basis @ small @ basis.T
    low = dct[:8, :8]
    bits = (low > np.median(low)).ravel()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def _area_resize(image, size: int):
    """The mean of each of size x size cells (each at least one pixel wide)."""
    import numpy as np

    h, w = image.shape
    integral = np.zeros((h + 1, w + 1))
    integral[1:, 1:] = image.cumsum(axis=0).cumsum(axis=1)

    def edges(n: int):
        lo = np.floor(np.arange(size) * n / size).astype(int)
        hi = np.maximum(lo + 1, np.floor(np.arange(1, size + 1) * n / size).astype(int))
        return lo, np.minimum(hi, n)

    (r0, r1), (c0, c1) = edges(h), edges(w)
    sums = (integral[r1][:, c1] - integral[r0][:, c1] - integral[r1][:, c0] + integral[r0][:, c0])
    return sums / ((r1 - r0)[:, None] * (c1 - c0)[None, :])


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --- in the store (the `content` kind), as probe facts are (probe/cache.py) ---

KIND = "content"
_FIELDS = tuple(f.name for f in fields(ContentFeatures))
_SCALARS = {"path": (str,), "width": (int,), "height": (int,), "mode": (str,), "phash": (str,), "tier": (str,)}
_SERIES = {"indices": (int,), "means": (int, float), "p98": (int,), "stds": (int, float), "diffs": (int, float),
           "changed": (int, float), "hists": (int, float), "row_max": (int,), "col_max": (int,),
           "percentiles": (int,)}


def content_version() -> str:
    """Changes whenever a decode could answer differently: this module's source (the
    decode, the features, their constants) and PyAV's version."""
    from cogvid_lint.probe.cache import sources_version

    return sources_version(repr(_FIELDS), [Path(__file__)])


def job_version(code_version: str, indices, tier: str = "full") -> str:
    """The version a row is stored under: the content code, the frames the trainer takes (a
    different trainer or resolution samples other frames: a miss) and the tier decoded of
    them (a run needing a fuller tier misses a row of a lesser one)."""
    wanted = sorted(set(indices))
    return f"{code_version}:{tier}:{hashlib.sha256(repr(wanted).encode()).hexdigest()[:12]}"


def answering_versions(code_version: str, indices, tier: str) -> tuple[str, ...]:
    """The versions of the rows that answer a job of `tier`: its own and every fuller tier's."""
    return tuple(job_version(code_version, indices, t) for t in TIERS[TIERS.index(tier):])


def encode(item: ContentFeatures) -> str:
    return json.dumps([getattr(item, name) for name in _FIELDS], separators=(",", ":"))


def decode(values: object) -> ContentFeatures | None:
    """The ContentFeatures a stored row holds, None when it is not one this version wrote:
    every field's type, counts not negative, series of the lengths the frames imply."""
    if type(values) is not list or len(values) != len(_FIELDS):
        return None
    row = dict(zip(_FIELDS, values))
    if row["error"] is not None:
        return ContentFeatures(path=row["path"], error=row["error"]) if type(row["error"]) is str \
            and type(row["path"]) is str else None
    for name, types in _SCALARS.items():
        if type(row[name]) not in types:
            return None
    for name, types in _SERIES.items():
        series = row[name]
        if type(series) is not list or any(type(v) not in types or v < 0 for v in series):
            return None
        row[name] = tuple(series)
    n = len(row["indices"])
    lengths = {"means": n, "p98": n, "stds": n, "diffs": n - 1, "changed": n - 1, "hists": n - 1,
               "row_max": row["height"], "col_max": row["width"], "percentiles": len(PERCENTILES)}
    if not n or any(len(row[name]) != want for name, want in lengths.items()):
        return None
    if len(row["phash"]) != 16 or any(c not in "0123456789abcdef" for c in row["phash"]):
        return None
    if row["tier"] not in TIERS or (row["tier"] == "first" and n != 1):
        return None
    return ContentFeatures(**row)


def sampled_frames(path: str, indices, rotation: int = 0, mode: str | None = None, tier: str = "full"):
    """The reduced gray frames of `tier` of `indices` and how they were decoded (for tests
    and bench/): (frames, their indices, mode)."""
    wanted = sorted({int(i) for i in indices})
    frames, got, mode, _, _ = _decode(path, wanted, int(rotation) % 360, mode, tier)
    return frames, got, mode
