"""Fuzz the training launch-script reader (cogvid_lint/discover/launch.py
read_launch_script): any script gives settings naming a data root, bounded in size
(variables that expand themselves must not grow without end). Usage: see _harness.py."""

from __future__ import annotations

import _harness
from seeds import launch_seeds as seeds


def load():
    from cogvid_lint import trainers
    from cogvid_lint.config_files import DATASET_KEYS
    from cogvid_lint.discover import launch

    path = _harness.scratch_file("train.sh")
    keys = {"data_root", *DATASET_KEYS}

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        problems: list[str] = []
        for found in launch.read_launch_script(path, problems):
            assert "data_root" in found.values and set(found.values) <= keys
            assert trainers.get(found.trainer) is not None
            words = [w for v in found.values.values() for w in (v if isinstance(v, list) else [v])]
            assert all(len(str(w)) <= len(data) + launch._MAX_EXPANDED for w in words)
        assert all("\n" not in problem for problem in problems)

    return one_input


if __name__ == "__main__":
    _harness.run("launch", seeds, load)
