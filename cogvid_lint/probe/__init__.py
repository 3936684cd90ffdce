"""Probing clips: what each one really holds. av/decord are imported lazily, inside probe()."""

from cogvid_lint.probe.info import VideoInfo

__all__ = ["VideoInfo"]
