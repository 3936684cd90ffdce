"""What every harness shares: a seeded corpus, atheris's coverage-guided loop, and the
choice of running long (a person, by hand) or bounded (CI).

    python tests/fuzz/fuzz_<name>.py                    # until a failure or Ctrl-C
    python tests/fuzz/fuzz_<name>.py --seconds 12       # bounded: what .ci/run does
    python tests/fuzz/fuzz_<name>.py --corpus DIR -- -jobs=2 -workers=2   # keep the corpus; libFuzzer flags after --

A failure (an exception the harness does not allow, a timeout of one input, memory past
the limit) stops the run with a non-zero exit and writes the input as crash-*/timeout-*/
oom-* under the run's folder (printed at the start); replay it with the same command
and the file's path after `--`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):  # tests/fuzz (seeds) and tests/ (clips)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

PER_INPUT_TIMEOUT_S = 10  # one input: the parsers are linear, so any input is far under
RSS_LIMIT_MB = 2048


def run(name: str, seeds: Callable[[], dict[str, bytes]], load: Callable[[], Callable[[bytes], None]]) -> None:
    parser = argparse.ArgumentParser(description=f"Fuzz the {name} parser with atheris (libFuzzer).")
    parser.add_argument("--seconds", type=int, default=0, help="stop after this long (0: run until a failure)")
    parser.add_argument("--corpus", type=Path, help="corpus folder to grow and keep (default: a new temporary one)")
    parser.add_argument("libfuzzer", nargs="*", help="libFuzzer flags or inputs to replay (after --)")
    args = parser.parse_args()

    import atheris

    with atheris.instrument_imports(include=["cogvid_lint"]):
        one_input = load()
    work = Path(tempfile.mkdtemp(prefix=f"cogvid-fuzz-{name}-"))
    corpus = args.corpus or work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for seed_name, data in seeds().items():
        (corpus / f"seed-{seed_name}").write_bytes(data)
    print(f"fuzz {name}: corpus {corpus}, failures under {work}", file=sys.stderr, flush=True)
    argv = [sys.argv[0], f"-timeout={PER_INPUT_TIMEOUT_S}", f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-artifact_prefix={work}/", "-print_final_stats=1"]
    if args.seconds:
        argv.append(f"-max_total_time={args.seconds}")
    replay = [a for a in args.libfuzzer if not a.startswith("-")]
    argv += [a for a in args.libfuzzer if a.startswith("-")] + (replay or [str(corpus)])
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def scratch_file(name: str) -> Path:
    """One file per harness process that each input is written to (the readers under
    test take a path)."""
    # in memory where there is a tmpfs: rewriting a file on a disk's /tmp costs ~4 ms
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix=f"cogvid-fuzz-{name}-input-", dir=shm if shm.is_dir() else None))
    return folder / name
