"""Run every fuzz harness one after another, each for --seconds (CI: the bounded step of
.ci/run); exit non-zero when any finds a failure. Prints each harness's executions and
coverage.

    python tests/fuzz/run_all.py --seconds 12
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESSES = ["mp4box", "pixfmt", "safetensors", "manifest", "launch"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=12, help="per harness")
    args = parser.parse_args()
    failed = []
    for name in HARNESSES:
        proc = subprocess.run([sys.executable, str(HERE / f"fuzz_{name}.py"), "--seconds", str(args.seconds)],
                              capture_output=True, text=True, timeout=args.seconds + 120)
        done = re.findall(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+)", proc.stderr)
        figures = f"{done[-1][0]} execs, cov {done[-1][1]}, ft {done[-1][2]}" if done else "no summary"
        print(f"fuzz {name}: exit {proc.returncode}, {figures}", flush=True)
        if proc.returncode != 0:
            failed.append(name)
            print(proc.stderr[-4000:], file=sys.stderr)
    if failed:
        print(f"fuzz: failures in {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
