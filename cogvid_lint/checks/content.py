"""Pixel rules (CVL5xx, opt-in): what the frames the trainer takes show. Each reads the
features the content stage stored for the clip (`clip.content`, probe/content.py), never
the pixels: thresholds are parameters, and changing one decodes nothing again.

Frames are the unique sampled indices, ascending; a "step" is two consecutive ones.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from cogvid_lint.checks.common import clip_finding
from cogvid_lint.discover.project import Clip, Dataset
from cogvid_lint.findings import Finding
from cogvid_lint.registry import RuleContext, check
from cogvid_lint.settings import Options


def _features(clip: Clip, tier: str = "full"):
    """The clip's features, when they cover `tier` (probe/content.py TIERS) of its frames."""
    from cogvid_lint.probe.content import TIERS

    item = clip.content
    if item is None or item.error is not None or not item.indices:
        return None
    return item if TIERS.index(item.tier) >= TIERS.index(tier) else None


def _black(item, black_luma: int) -> list[bool]:
    """Per frame: black as FFmpeg's blackdetect says (98 % of pixels at most `black_luma`)."""
    return [p <= black_luma for p in item.p98]


def _crf(ctx: RuleContext) -> int:
    return (ctx.settings.options if ctx.settings is not None else Options()).fix_crf


def _keeps_enough(clip: Clip, kept: int) -> bool:
    """Whether a clip trimmed to `kept` frames still gives the trainer a whole sample: at
    least its target frame count, nothing padded, no trainer error (else: drop the clip)."""
    dataset = clip.dataset
    target = dataset.profile.target_frames(dataset.settings)
    if target is None or kept < target:
        return False
    sample = dataset.sample(kept, clip.info.fps)
    return sample.padded == 0 and sample.crash is None


def _trim(clip: Clip, ctx: RuleContext, first: int, last: int, why: str):
    """The unsafe trim to source frames first..last, when that keeps enough frames (else None)."""
    info = clip.info
    if info is None or info.error is not None or not 0 <= first <= last < info.frames:
        return None
    if (first, last) == (0, info.frames - 1) or not _keeps_enough(clip, last - first + 1):
        return None
    from cogvid_lint.fix.media_plan import trim_fix

    return trim_fix(clip, first, last, why, crf=_crf(ctx))


def _seconds(frames: int, fps: float | None) -> str:
    return f"{frames / fps:.1f} s" if fps else f"{frames} frames"


@check("content.scene_cut", args=("before", "after", "taken"))
def scene_cut(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    """PySceneDetect's AdaptiveDetector rule on the sampled frames (content.md §3.3, R2): a
    step is a cut when its luma change is large and several times its neighbours' (±2
    steps), or its histogram change is. Steps touching a black frame are not judged (a fade
    through black is CVL505's). Only frames up to the last sampled one are decoded: a cut
    after it is never seen by the trainer and never reported."""
    item = _features(clip)
    if item is None or len(item.indices) < 2:
        return
    p = ctx.params
    black = _black(item, p["black_luma"])
    cuts = _cuts(item.diffs, item.hists, black, p["min_diff"], p["diff_ratio"], p["min_hist"], p["hist_ratio"])
    if cuts:  # one finding a clip: the first cut is the one named
        k = cuts[0]
        yield clip_finding(clip, {"before": item.indices[k], "after": item.indices[k + 1],
                                  "taken": len(item.indices)}, fix=_shot_fix(clip, ctx, item.indices, cuts))


def _shot_fix(clip: Clip, ctx: RuleContext, idx: Sequence[int], cuts: Sequence[int]):
    """Trim to the longest shot that keeps enough frames. A cut lies between two taken
    frames: each shot is bounded by the taken frames on its side of the cuts, and the last
    one ends at the last taken frame (past it nothing was looked at: it may cut again)."""
    starts = [0] + [idx[k + 1] for k in cuts]
    ends = [idx[k] for k in cuts] + [idx[-1]]
    shots = sorted(zip(starts, ends), key=lambda shot: (shot[0] - shot[1], shot[0]))
    for first, last in shots:
        fix = _trim(clip, ctx, first, last, "the longest shot")
        if fix is not None:
            return fix
    return None


def _cuts(diffs: Sequence[float], hists: Sequence[float], black: Sequence[bool], min_diff: float,
          diff_ratio: float, min_hist: float, hist_ratio: float) -> list[int]:
    found = []
    steps = len(diffs)
    for k in range(steps):
        if black[k] or black[k + 1]:
            continue
        around = [j for j in range(max(0, k - 2), min(steps, k + 3)) if j != k]

        def spikes(series: Sequence[float], floor: float, ratio: float) -> bool:
            if series[k] < floor:
                return False
            if not around:
                return True
            return series[k] >= ratio * (sum(series[j] for j in around) / len(around))

        if spikes(diffs, min_diff, diff_ratio) or spikes(hists, min_hist, hist_ratio):
            found.append(k)
    return found


def bars(item, max_luma: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) rows/columns of the reduced frame whose brightest pixel,
    over every lit sampled frame, is at most `max_luma`; none when the whole frame is."""
    def run(profile: Sequence[int]) -> int:
        for n, value in enumerate(profile):
            if value > max_luma:
                return n
        return len(profile)

    rows, cols = item.row_max, item.col_max
    top, bottom, left, right = run(rows), run(rows[::-1]), run(cols), run(cols[::-1])
    if top + bottom >= len(rows) or left + right >= len(cols):
        return 0, 0, 0, 0
    return top, bottom, left, right


@check("content.black_bars", args=("kind", "sides", "width", "height", "content_width", "content_height"),
       content_tier="keyframes")
def black_bars(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    """cropdetect's rule, on the trainer's frames: edge rows or columns dark in every lit
    frame (the brightest pixel at most `max_luma`), a side reported from `min_share` of the
    frame (one latent row at 480 px). Bars stand still: keyframes of the sampled window
    are enough (when this is the only pixel rule, only they are decoded)."""
    item = _features(clip, "keyframes")
    if item is None:
        return
    p = ctx.params
    top, bottom, left, right = bars(item, p["max_luma"])
    h, w = item.height, item.width
    shares = {"top": top / h, "bottom": bottom / h, "left": left / w, "right": right / w}
    sides = {side: share for side, share in shares.items() if share >= p["min_share"]}
    if not sides:
        return
    info = clip.info
    horizontal = bool({"top", "bottom"} & sides.keys())
    vertical = bool({"left", "right"} & sides.keys())
    kind = "windowboxed" if horizontal and vertical else "letterboxed" if horizontal else "pillarboxed"
    full_w, full_h = (info.width, info.height) if info is not None and info.width else (w, h)
    content_w = round(full_w * (1 - shares["left"] - shares["right"]))
    content_h = round(full_h * (1 - shares["top"] - shares["bottom"]))
    text = ", ".join(f"{side} {round(100 * share)}%" for side, share in sides.items())
    yield clip_finding(clip, {"kind": kind, "sides": text, "width": full_w, "height": full_h,
                              "content_width": content_w, "content_height": content_h},
                       fix=_bars_fix(clip, ctx, (top, bottom, left, right), (w, h)))


def _bars_fix(clip: Clip, ctx: RuleContext, sides: tuple[int, int, int, int], reduced: tuple[int, int]):
    """Crop to the picture inside the bars; for a trainer that stretches every clip to its
    size, the aspect crop-resize to that size follows in the same re-encode."""
    info = clip.info
    if info is None or info.error is not None or info.width <= 0 or info.height <= 0:
        return None
    from cogvid_lint.fix.media_plan import bars_fix, content_box

    box = content_box(sides, reduced, (info.width, info.height))
    if box is None:
        return None
    resize = clip.dataset.resize(box[2], box[3], info.frames)
    target = (resize.width, resize.height) if resize is not None and resize.mode == "stretch" else None
    return bars_fix(clip, box, target, crf=_crf(ctx))


def frozen_steps(item, max_diff: float, max_diff_sigma: float, max_changed: float) -> list[bool]:
    """Per step: no motion. freezedetect's mean |Δ| (an absolute floor, and a share of the
    picture's σ, so a dark low-contrast scene is not frozen for its low numbers), and almost
    no pixel changed visibly (small figures moving in a static shot are motion)."""
    out = []
    for k, (d, changed) in enumerate(zip(item.diffs, item.changed)):
        sigma = max(item.stds[k], item.stds[k + 1])
        out.append(d < max_diff and d < max_diff_sigma * sigma and changed < max_changed)
    return out


@check("content.frozen", args=("what", "frames", "seconds"))
def frozen_video(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    item = _features(clip)
    if item is None or len(item.indices) < 2:
        return
    p = ctx.params
    frozen = frozen_steps(item, p["max_diff"], p["max_diff_sigma"], p["max_changed"])
    fps = clip.info.fps if clip.info is not None else None
    idx = item.indices
    # A step between two copies of one source frame (a trainer's padding, CVL's own rule)
    # says nothing about motion: it counts neither way.
    moving_steps = [k for k in range(len(frozen)) if idx[k + 1] != idx[k]]
    if not moving_steps:
        return
    share = sum(frozen[k] for k in moving_steps) / len(moving_steps)
    best, start = (0, 0), None  # the longest frozen run, as (first position, last position) in idx
    for k, still in enumerate([*frozen, False]):
        if still and start is None:
            start = k
        elif not still and start is not None:
            if idx[k] - idx[start] > idx[best[1]] - idx[best[0]]:
                best = (start, k)
            start = None
    # a clip that moves and then freezes is a frozen tail (trim it), however long the tail
    tail_steps = sum(1 for k in moving_steps if best[0] <= k < best[1])
    tail_only = (idx[best[1]] == idx[-1] and idx[best[0]] > idx[0]
                 and sum(frozen[k] for k in moving_steps) == tail_steps)
    best = (idx[best[0]], idx[best[1]])  # as source frames
    if share >= p["still_share"] and not tail_only:
        yield clip_finding(clip, {"what": f"still: {round(100 * share)}% of the steps between the frames the "
                                          "trainer takes show no motion", "frames": len(idx),
                                  "seconds": _seconds(idx[-1] - idx[0], fps)})
        return
    length = best[1] - best[0]
    if length and fps and length / fps >= p["min_seconds"]:
        tail = best[1] == idx[-1]
        where = "frozen tail" if tail else "frozen"
        # the tail trimmed: the first frozen frame is kept, the frames that repeat it go
        fix = _trim(clip, ctx, 0, best[0], "the frozen tail cut off") if tail else None
        yield clip_finding(clip, {"what": f"{where}: frames {best[0]}-{best[1]} ({_seconds(length, fps)}) "
                                          "show the same picture", "frames": length,
                                  "seconds": _seconds(length, fps)}, fix=fix)


@check("content.black_frames", args=("what", "seconds"))
def black_frames(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    """Black at the start or end of what the trainer takes, from `min_seconds` of the clip
    (blackdetect's d=2 s); a clip black in every sampled frame always."""
    item = _features(clip)
    if item is None:
        return
    p = ctx.params
    black = _black(item, p["black_luma"])
    idx = item.indices
    fps = clip.info.fps if clip.info is not None else None
    if all(black):
        yield clip_finding(clip, {"what": f"every one of the {len(idx)} frames the trainer takes is black",
                                  "seconds": _seconds(idx[-1] - idx[0] + 1, fps)})
        return
    lead = black.index(False)
    tail = black[::-1].index(False)
    for n, frames, where in ((lead, idx[lead] - idx[0], "starts"), (tail, idx[-1] - idx[-1 - tail], "ends")):
        if n and fps and frames / fps >= p["min_seconds"]:
            span = f"frames {idx[0]}-{idx[lead - 1]}" if where == "starts" else f"frames {idx[-tail]}-{idx[-1]}"
            # cut at the taken frames on either side of the black: no black frame is kept
            if where == "starts":
                fix = _trim(clip, ctx, idx[lead], clip.info.frames - 1, "the black start cut off")
            else:
                fix = _trim(clip, ctx, 0, idx[-1 - tail], "the black tail cut off")
            yield clip_finding(clip, {"what": f"{where} with {_seconds(frames, fps)} of black ({span}, "
                                              f"{n} of the {len(idx)} frames the trainer takes)",
                                      "seconds": _seconds(frames, fps)}, fix=fix)


@check("content.black_first_frame", args=("frame",), content_tier="first")
def black_first_frame(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    """An image-to-video model conditioned on the clip's first taken frame (no image list):
    a black one teaches it to animate from black. Reads that frame alone."""
    item = _features(clip, "first")
    dataset = clip.dataset
    spec = dataset.settings.model_spec
    if item is None or spec is None or spec.kind != "i2v" or dataset.images is not None:
        return
    if item.p98[0] <= ctx.params["black_luma"]:
        yield clip_finding(clip, {"frame": item.indices[0]})


@check("content.dark", args=("p99",))
def dark_video(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    """cleanvision's dark-image rule on the picture over the sampled frames: its 99th
    percentile of luma below `max_p99`. A clip black throughout is CVL505's."""
    item = _features(clip)
    if item is None or all(_black(item, 25)):
        return
    p99 = item.percentiles[-1]
    if p99 < ctx.params["max_p99"]:
        yield clip_finding(clip, {"p99": p99})


# --- near-duplicates: a dataset check over every clip's hash ---

def near_duplicate_groups(clips: Sequence[Clip], max_bits: int) -> list[list[tuple[Clip, int]]]:
    """Groups of clips (each file once, in list order) whose hashes chain within `max_bits`
    of each other: (clip, bits from the group's first clip). Clips without features are in
    no group."""
    seen: dict[str, Clip] = {}
    for clip in clips:
        if clip.fspath not in seen and _features(clip) is not None:
            seen[clip.fspath] = clip
    members = list(seen.values())
    if len(members) < 2:
        return []
    import numpy as np  # here: a run without the content stage never loads numpy (0.1 s)
    hashes = np.array([int(c.content.phash, 16) for c in members], dtype=np.uint64)
    parent = list(range(len(members)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(members) - 1):
        close = np.flatnonzero(_popcount(hashes[i + 1:] ^ hashes[i]) <= max_bits) + i + 1
        for j in close:
            a, b = root(i), root(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(members)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for group in groups.values():
        if len(group) > 1:
            first = hashes[group[0]]
            out.append([(members[i], int(_popcount(np.array([hashes[i] ^ first], dtype=np.uint64))[0]))
                        for i in group])
    return out


def _popcount(values):
    """Set bits of each uint64 (np.bitwise_count is numpy >= 2.0)."""
    import numpy as np

    counter = getattr(np, "bitwise_count", None)
    if counter is not None:
        return counter(values)
    as_bytes = values.view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1)


@check("content.near_duplicates", args=("other", "bits"), content_features=True)
def near_duplicates(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """pHash of the mean sampled picture (content.md §3.3: same-source copies 0-4 bits apart,
    different clips 8 or more). Every clip of a group but the first is reported."""
    for group in near_duplicate_groups(dataset.clips, ctx.params["max_bits"]):
        first = group[0][0]
        for clip, bits in group[1:]:
            yield clip_finding(clip, {"other": _shown(first, dataset), "bits": bits})


def _shown(clip: Clip, dataset: Dataset) -> str:
    return clip.entry.text if clip.entry is not None else clip.fspath
