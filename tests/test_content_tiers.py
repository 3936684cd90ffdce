"""The content stage's tiers (issue 18): a selection whose pixel rules need no more than
keyframes (CVL502, bars) or the first sampled frame (CVL506, black first frame) decodes
only those; the answers equal the full decode's on real clips; rows are stored per tier,
a fuller row answers a run needing less, a lesser row never a run needing more.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import footage
from cogvid_lint.checks.content import bars
from cogvid_lint.probe import content as content_stage
from test_content import _codes, _project, _reference, _run


def _tier_of(selection: list[str], tmp_path) -> str:
    from cogvid_lint.engine import activate, decode_tier, load_catalogue, select_rules
    from cogvid_lint.settings import CliOptions, resolve_settings

    settings = resolve_settings(CliOptions(paths=(str(tmp_path),), select=tuple(selection[:1]),
                                           extend_select=tuple(selection[1:])), cwd=tmp_path)
    catalogue = load_catalogue(settings)
    return decode_tier(activate(select_rules(catalogue, settings), settings, catalogue=catalogue))


@pytest.mark.parametrize("selection, tier", [
    (["CVL506"], "first"),
    (["CVL502"], "keyframes"),
    (["CVL502", "CVL506"], "keyframes"),
    (["black-bars", "CVL105"], "keyframes"),  # a rule reading no pixels changes nothing
    (["CVL502", "CVL501"], "full"),
    (["CVL5"], "full"),
    (["CVL008", "CVL504"], "full"),  # a dataset rule reading the features reads the full decode
])
def test_the_tier_is_the_fullest_any_selected_pixel_rule_needs(tmp_path, selection, tier):
    assert _tier_of(selection, tmp_path) == tier


def test_tier_frames_are_the_first_sampled_frame_and_keyframes_inside_the_window():
    wanted = list(range(3, 290, 6))
    keys = list(range(0, 300, 12))
    assert content_stage.tier_frames("first", wanted, keys) == [3]
    assert content_stage.tier_frames("full", wanted, keys) == wanted
    got = content_stage.tier_frames("keyframes", wanted, keys)
    inside = [k for k in keys if 3 <= k <= 285]
    assert got[0] == 3 and set(got[1:]) <= set(inside) and len(got) == content_stage.KEYFRAMES + 1
    assert inside[0] in got and inside[-1] in got  # spread over the whole window
    assert content_stage.tier_frames("keyframes", [0, 10, 20], [0, 250]) == [0]


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory):
    """A letterboxed pan with a cut, 200 frames, a keyframe every 24 (B-frames)."""
    folder = tmp_path_factory.mktemp("gop")
    scene = footage.letterbox(footage.cut(footage.pan(1, 3.0), footage.figures(2), 120), 22)
    return footage.clip(folder / "lb.mp4", scene, frames=200, gop=24)


@pytest.mark.parametrize("tier", ["first", "keyframes"])
def test_a_tier_decodes_only_its_frames_and_they_are_exact(gop_clip, tier):
    indices = list(range(2, 200, 4))[:49]
    frames, got, mode = content_stage.sampled_frames(str(gop_clip), indices, tier=tier)
    if tier == "first":
        assert got == [2] and mode == "seek"
    else:
        assert got[0] == 2 and all(k % 24 == 0 for k in got[1:]) and len(got) >= 5 and mode == "key"
    for ours, ref in zip(frames, _reference(gop_clip, got)):
        assert np.array_equal(ours, ref)


BAR_LUMA = 10  # CVL502's max_luma default
RECIPES = [("letterbox", {"bar": 22}), ("pillarbox", {"bar": 40}), ("night", {}), ("vignette", {}), ("pan", {}),
           ("fade_in", {}), ("dark", {}), ("shapes", {}), ("cut", {"at": 41}), ("black_lead", {"until": 40}),
           ("black_tail", {"frame": 50})]


@pytest.mark.parametrize("gop", [None, 12, 48])
def test_bars_and_the_first_frame_from_a_tier_equal_the_full_decodes(tmp_path, gop):
    """On every footage recipe the rules are tested on, one keyframe in the window, 2 or 8:
    the bars CVL502 finds at its default limit and the first frame CVL506 reads. (At other
    limits the row at a bar's edge, half bar and half picture, may read differently: its
    brightest pixel over 1-8 keyframes is not its brightest over 49 frames; measured on the
    letterbox at max_luma 5 and the night scene at 24.)"""
    indices = list(range(0, 96, 2))[:49]
    for n, (recipe, params) in enumerate(RECIPES):
        path = str(footage.make(tmp_path, f"{recipe}.mp4", recipe, seed=n + 1, gop=gop, **params))
        full = content_stage.content(path, indices)
        keys = content_stage.content(path, indices, tier="keyframes")
        first = content_stage.content(path, indices, tier="first")
        assert full.tier == "full" and first.tier == "first" and keys.tier in ("keyframes", "full"), recipe
        assert bars(keys, BAR_LUMA) == bars(full, BAR_LUMA), (recipe, gop)
        assert (keys.width, keys.height) == (full.width, full.height)
        for part in (keys, first):
            assert (part.indices[0], part.p98[0]) == (full.indices[0], full.p98[0]), (recipe, gop)
        assert len(first.indices) == 1
        if gop == 12:  # eight keyframes spread over the window, never the sampled frames
            assert keys.tier == "keyframes" and len(keys.indices) == content_stage.KEYFRAMES


def test_keyframes_showing_nothing_lit_fall_to_the_full_decode(tmp_path):
    path = str(footage.make(tmp_path, "late.mp4", "black_lead", frames=96, until=60, gop=250))
    item = content_stage.content(path, list(range(0, 96, 2)), tier="keyframes")
    assert item.tier == "full" and len(item.indices) == 48


def test_an_avi_decodes_its_first_frame_alone_and_keyframes_in_full(tmp_path):
    path = footage.clip(tmp_path / "a.avi", footage.letterbox(footage.pan(1), 22), frames=60)
    indices = list(range(0, 60, 3))
    assert content_stage.content(str(path), indices, tier="first").indices == (0,)
    item = content_stage.content(str(path), indices, tier="keyframes")
    assert item.tier == "full" and item.indices == tuple(indices)


def _stored_tiers(root) -> dict[str, str]:
    with sqlite3.connect(root / ".cogvid_lint_cache" / "store.sqlite") as conn:
        rows = conn.execute("SELECT path, value FROM content").fetchall()
    import json

    return {bytes(path).decode().rsplit("/", 1)[-1]: content_stage.decode(json.loads(value)).tier
            for path, value in rows}


def test_rows_are_stored_per_tier_and_only_a_fuller_one_is_reused(tmp_path):
    _project(tmp_path, {"lb.mp4": ("letterbox", {"bar": 22}), "fade.mp4": ("fade_in", {})})
    log = tmp_path / "decoded.log"
    env = {"COGVID_LINT_CONTENT_FN": "content_standins:logged_misbehaving", "CONTENT_LOG": str(log)}
    args = ["--train-resolution", "17x480x720", "--model", "cogvideox-i2v"]

    def run(*selection: str) -> tuple[list, list[str]]:
        log.write_text("")
        found = _codes(_run(tmp_path, *args, *selection, env=env))
        return found, sorted(log.read_text().split())

    first = run("--select", "CVL506")
    assert first == ([("CVL506", "data/v/fade.mp4")], ["fade.mp4", "lb.mp4"])
    assert _stored_tiers(tmp_path) == {"lb.mp4": "first", "fade.mp4": "first"}
    # bars need keyframes: the first-frame rows do not answer
    keyframes = run("--select", "CVL502,CVL506")
    assert keyframes == ([("CVL502", "data/v/lb.mp4"), ("CVL506", "data/v/fade.mp4")], ["fade.mp4", "lb.mp4"])
    # the fade's one keyframe is black: it needed the full decode, and is stored as such
    assert _stored_tiers(tmp_path) == {"lb.mp4": "keyframes", "fade.mp4": "full"}
    assert run("--select", "CVL506") == (first[0], [])  # a fuller row answers the first frame
    # the full series: the keyframes row is decoded again; the lesser tiers' answers stay
    full = run("--select", "CVL5")
    assert full[1] == ["lb.mp4"] and set(keyframes[0]) <= set(full[0])
    assert _stored_tiers(tmp_path) == {"lb.mp4": "full", "fade.mp4": "full"}
    assert run("--select", "CVL502,CVL506") == (keyframes[0], [])  # the full rows answer
