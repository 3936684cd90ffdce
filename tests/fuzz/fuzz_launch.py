"""Fuzz the training launch-script reader (cogvid_lint/discover/launch.py
read_launch_script): any script gives settings naming a data root, bounded in size
(variables that expand themselves must not grow without end). Usage: see _harness.py."""

from __future__ import annotations

import _harness
from seeds import launch_seeds as seeds


def load():
    from cogvid_lint.discover import launch

    path = _harness.scratch_file("train.sh")

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        for found in launch.read_launch_script(path):
            assert "data_root" in found.values and set(found.values) <= set(launch.FLAG_TO_KEY.values())
            assert all(len(value) <= len(data) + launch._MAX_EXPANDED for value in found.values.values())

    return one_input


if __name__ == "__main__":
    _harness.run("launch", seeds, load)
