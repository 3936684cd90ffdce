"""Fuzz the mp4/mov box walker (cogvid_lint/probe/mp4box.py): read_layout never raises,
answers only quarter-turn rotations, and stays bounded. Usage: see _harness.py."""

from __future__ import annotations

import _harness  # noqa: F401  (sys.path)
from seeds import mp4box_seeds as seeds


def load():
    from cogvid_lint.probe import mp4box

    def one_input(data: bytes) -> None:
        # the whole file is the head: nothing is opened, as for a small clip
        layout = mp4box.read_layout("<fuzz>", data, len(data))
        assert isinstance(layout, mp4box.BoxLayout)
        assert set(layout.track_rotations) <= {0, 90, 180, 270}, layout
        assert not layout.has_moov or layout.is_bmff

    return one_input


if __name__ == "__main__":
    _harness.run("mp4box", seeds, load)
