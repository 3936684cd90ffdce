"""Run a command where file permissions hold, even as root (CI runs tests as root).

Root reads a chmod 000 file anyway; `setpriv` (util-linux) drops the capabilities that
let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) for the command it starts.
"""

from __future__ import annotations

import os
import shutil

import pytest


def permission_prefix() -> list[str]:
    """The argv prefix under which chmod 000 means unreadable (skips the test if none)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root privileges")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}"]
