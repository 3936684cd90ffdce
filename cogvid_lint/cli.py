"""Command line: `cogvid-lint [check] [PATH ...]`, `rule`, `rules`, `inspect`, `cache stamp`, `undo`.

`main(argv) -> int` never lets a traceback out (unless --verbose): exit 0 when nothing at or
above --fail-on remains, 1 when findings do, 2 for usage/config errors or a crash of the tool.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from cogvid_lint import __version__
from cogvid_lint.errors import ConfigError, UsageError, missing_path
from cogvid_lint.remote.urls import is_url

COMMANDS = ("check", "rule", "rules", "inspect", "cache", "undo")
# must list cogvid_lint.report.FORMATS (a test checks it); not imported here to keep start-up light
FORMAT_CHOICES = ("full", "concise", "json", "json-lines", "sarif", "github", "gitlab", "junit", "html")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        raise UsageError(message)


def _codes(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _number(kind, low: float, inclusive: bool):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected a number {'>=' if inclusive else '>'} {low}, got {text!r}")
        return value
    return parse


def _model(text: str) -> str:
    """A model name the trainers know (any case), kept as written: the report shows it."""
    from cogvid_lint.models import known_model_names, lookup_model

    if lookup_model(text) is None:
        raise argparse.ArgumentTypeError(f"unknown model {text!r}{_did_you_mean(text.lower(), known_model_names())}"
                                         f" (known: {', '.join(known_model_names())})")
    return text


def _did_you_mean(word: str, candidates, quote: bool = False) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=1)
    if not close:
        return ""
    return f" (did you mean {close[0]!r}?)" if quote else f" (did you mean {close[0]}?)"


def _model_names() -> str:
    from cogvid_lint.models import known_model_names

    return ", ".join(known_model_names())


def _dataset_flags(group) -> None:
    """Per-dataset settings, shared by `check` and `cache stamp` (which must resolve alike)."""
    group.add_argument("--layout", choices=("auto", "cogvideo", "sat", "finetrainers"),
                       help="dataset layout: cogvideo (videos.txt + prompts.txt), sat (videos/ + labels/), "
                            "finetrainers (metadata file, caption/clip pairs or lists, read its way), "
                            "auto (default: the trainer's, else tell by the files)")
    group.add_argument("--caption-column", metavar="FILE",
                       help="caption list in the data root (default: prompts.txt, prompt.txt, captions.txt, caption.txt)")
    group.add_argument("--video-column", metavar="FILE", help="video list in the data root (default: videos.txt, video.txt)")
    group.add_argument("--image-column", metavar="FILE", help="first-frame image list of an image-to-video dataset")
    group.add_argument("--model", type=_model, metavar="MODEL",
                       help=f"the model being fine-tuned, one of: {_model_names()} (default: cogvideox-t2v)")
    group.add_argument("--train-resolution", metavar="FxHxW",
                       help="frames x height x width the trainer resizes to, e.g. 49x480x720 (default: the model's)")
    group.add_argument("--purpose", choices=("style", "concept", "general"),
                       help="what the fine-tune is for; sets how many clips are enough (default: general)")
    group.add_argument("--id-token", metavar="TOKEN", help="a token every caption must contain")
    group.add_argument("--trainer", metavar="NAME",
                       help="the trainer that will train on the data (default: detected from the launch scripts; "
                            "finetune, sat, diffusers, diffusers-i2v, finetrainers, finetrainers-v0, cogvideox-factory)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cogvid-lint", description="Lint CogVideoX fine-tuning datasets, configs and code.")
    parser.add_argument("--version", action="version", version=f"cogvid-lint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser("check", help="lint a project (the default command)")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                       help="what to lint (default: .): a project folder, a dataset folder, a list file "
                            "(videos.txt: its dataset), a clip (with the settings in force) or a Python file")
    data = check.add_argument_group("dataset settings")
    data.add_argument("--data-root", action="append", default=[], metavar="DIR",
                      help="lint this dataset folder (repeatable); default: the config's, the launch scripts', "
                           "else folders holding a videos.txt")
    _dataset_flags(data)
    sel = check.add_argument_group("rule selection")
    sel.add_argument("--select", type=_codes, metavar="CODES",
                     help="comma-separated codes, prefixes (CVL1) or rule names to run (default: ALL)")
    sel.add_argument("--ignore", type=_codes, default=(), metavar="CODES", help="rules not to run (as --select)")
    sel.add_argument("--extend-select", type=_codes, default=(), metavar="CODES",
                     help="rules to run in addition to --select")
    check.add_argument("--config", metavar="FILE",
                       help="the config file (default: cogvid-lint.yaml or pyproject.toml at or above PATH)")
    out = check.add_argument_group("output")
    out.add_argument("--output-format", choices=FORMAT_CHOICES, default=None, metavar="FORMAT",
                     help=f"one of: {', '.join(FORMAT_CHOICES)} (default: full; github inside GitHub Actions)")
    out.add_argument("-o", "--output-file", metavar="FILE", help="write the report to FILE instead of stdout")
    out.add_argument("--html-report", metavar="FILE",
                     help="also write the HTML report (each clip finding with the frames its trainer takes) to FILE")
    out.add_argument("--fail-on", choices=("error", "warning", "info"),
                     help="exit 1 when a finding of this severity or above remains (default: warning)")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    out.add_argument("--statistics", action="store_true",
                     help="print only the number of findings per rule ([*]: --fix fixes them)")
    out.add_argument("-q", "--quiet", action="store_true", help="print the findings only: no tables, no summary")
    out.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                     help="colour the full report (default auto: on a terminal, unless NO_COLOR is set)")
    base = check.add_argument_group("baseline")
    base.add_argument("--baseline", metavar="FILE", help="report and fail only on findings not recorded in FILE")
    base.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE and exit 0")
    fix = check.add_argument_group("fixing")
    fix.add_argument("--fix", action="store_true", help="apply safe fixes, then lint again")
    fix.add_argument("--unsafe-fixes", action="store_true", help="with --fix/--diff: also unsafe fixes")
    fix.add_argument("--diff", action="store_true", help="show what --fix would do; change nothing")
    fix.add_argument("--exit-zero-on-fix", action="store_true",
                     help="exit 0 after fixing data when nothing remains (default: 1, so CI notices)")
    check.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    perf = check.add_argument_group("speed")
    perf.add_argument("-j", "--jobs", type=_number(int, 0, True), metavar="N",
                      help="probe clips in N processes (default 0: every available CPU)")
    perf.add_argument("--no-cache", action="store_true", default=None, help="neither read nor write the project's caches (clip probes, code facts)")
    perf.add_argument("--cache-dir", metavar="DIR",
                      help="probe cache folder (default: .cogvid_lint_cache/ at the project root)")
    perf.add_argument("--probe-timeout", type=_number(float, 0, False), metavar="SECONDS",
                      help="give up on a clip whose probe takes longer (default 30)")
    perf.add_argument("--engine", choices=("local", "ray"), default=None,
                      help="where clips are probed and decoded: this machine's workers (local, the default) or "
                           "Ray tasks (ray: pip install 'cogvid-lint[ray]')")
    perf.add_argument("--ray-address", metavar="ADDRESS",
                      help="with --engine ray: the cluster (HOST:PORT, ray://HOST:PORT, auto; default: "
                           "RAY_ADDRESS, else a local Ray instance)")

    rule = sub.add_parser("rule", help="print a rule's documentation")
    rule.add_argument("rule", metavar="CODE|NAME")
    rule.add_argument("--output-format", choices=("text", "json"), default="text")
    rule.add_argument("--config", metavar="FILE", help="the config whose rules-dir holds your own rules "
                      "(default: cogvid-lint.yaml or pyproject.toml at or above the current folder)")
    rules = sub.add_parser("rules", help="list all rules (the built-in ones and your own)")
    rules.add_argument("--output-format", choices=("text", "json"), default="text")
    rules.add_argument("--config", metavar="FILE", help="as for `rule`")

    cache = sub.add_parser("cache", help="cache tools: stamp the latent cache, clean the probe cache")
    actions = cache.add_subparsers(dest="cache_command", parser_class=_Parser, required=True, metavar="ACTION")
    stamp = actions.add_parser("stamp", help="record each cached clip's size, mtime and content hash")
    stamp.add_argument("data_root", nargs="?", metavar="DATA_ROOT")
    stamp.add_argument("--config", metavar="FILE")
    _dataset_flags(stamp.add_argument_group("dataset settings"))
    clean = actions.add_parser("clean", help="delete cogvid-lint's probe cache (.cogvid_lint_cache/)")
    clean.add_argument("path", nargs="?", default=".", metavar="PATH")
    clean.add_argument("--config", metavar="FILE")
    clean.add_argument("--cache-dir", metavar="DIR")

    undo = sub.add_parser("undo", help="put back the originals of clips a media fix rewrote")
    undo.add_argument("data_root", nargs="?", metavar="DATA_ROOT")
    undo.add_argument("--run", metavar="RUN_ID", help="undo this fix run (default: the last one)")
    undo.add_argument("--config", metavar="FILE")

    inspect = sub.add_parser("inspect", help="what the trainer will see of each clip")
    inspect.add_argument("clips", nargs="+", metavar="CLIP")
    inspect.add_argument("--json", action="store_true")
    inspect.add_argument("--train-resolution", metavar="FxHxW")
    inspect.add_argument("--trainer", metavar="NAME", help="show the frames this trainer takes (default: finetune)")
    inspect.add_argument("--show", metavar="OUT", help="draw a contact sheet of the frames the trainer takes: "
                         "OUT.png or OUT.jpg for one clip, else a folder with a CLIP.jpg per clip")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line's entry point: the same run whether `argv` is given or read from
    sys.argv."""
    code = _main(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        # The process ends now: its objects need no last collection walking them all
        # (10,000 clips: ~20 ms of interpreter shutdown).
        import gc

        gc.freeze()
    return code


def _main(argv: list[str]) -> int:
    verbose = "--verbose" in argv
    code = 0
    try:
        if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
            _check_first_word(argv)
            argv.insert(0, "check")
        args = parse_args(build_parser(), argv)
        code = _run(args)
        sys.stdout.flush()  # here, not at exit: a reader that has gone is noticed below
        return code
    except BrokenPipeError:
        # `cogvid-lint rules | head -1`: the reader has all it wanted. Nothing more can be
        # written; stdout goes to the null device so the flush at exit does not fail too.
        _stdout_to_devnull()
        return code
    except UsageError as exc:
        print(f"cogvid-lint: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for line in exc.lines:
            print(f"cogvid-lint: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cogvid-lint: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # argparse --help/--version
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - the tool's own crash: one line, exit 2
        if verbose:
            raise
        print(f"cogvid-lint: internal error: {exc.__class__.__name__}: {exc} (run with --verbose for details)",
              file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "rule":
        from cogvid_lint.commands.docs import show_rule
        return show_rule(args.rule, args.output_format, args.config)
    if args.command == "rules":
        from cogvid_lint.commands.docs import list_rules
        return list_rules(args.output_format, args.config)
    if args.command == "inspect":
        from cogvid_lint.commands.inspect import inspect_clips
        return inspect_clips(args.clips, as_json=args.json, train_resolution=args.train_resolution,
                                trainer=args.trainer, show=args.show)
    if args.command == "cache" and args.cache_command == "stamp":
        from cogvid_lint.commands.cache_stamp import stamp_command
        return stamp_command(args)
    if args.command == "cache" and args.cache_command == "clean":
        from cogvid_lint.commands.cache_clean import clean_command
        return clean_command(args)
    if args.command == "undo":
        from cogvid_lint.commands.undo import undo_command
        return undo_command(args)
    from cogvid_lint.commands.check import run_check
    return run_check(args)


def _check_first_word(argv: list[str]) -> None:
    """`cogvid-lint WORD` lints the path WORD: a word that is neither a command nor an
    existing path is a mistyped command or path, not an empty project that passes."""
    if not argv or argv[0].startswith("-") or os.path.lexists(argv[0]) or is_url(argv[0]):
        return  # a URL (s3://bucket/data) is a data root: run_check says if it cannot be read
    word = argv[0]
    hint = _did_you_mean(word, COMMANDS, quote=True)
    if hint or os.sep not in word and "/" not in word:
        raise UsageError(f"{word!r} is neither a command ({', '.join(COMMANDS)}) nor an existing path{hint}")
    raise UsageError(missing_path(word))


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """`parser.parse_args`, with a did-you-mean for an unknown flag (`--ouput-format`)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        options = _option_strings(parser, argv)
        flags = [word for word in unknown if word.startswith("-")] or unknown
        first = flags[0].split("=", 1)[0]
        hint = _did_you_mean(first, options) if first.startswith("-") else ""
        raise UsageError(f"unrecognized argument{'s' if len(flags) > 1 else ''}: {' '.join(flags)}{hint}")
    return args


def _option_strings(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The flags of the (sub)command that `argv` names."""
    options = list(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word in argv:
                if word in action.choices:
                    options += _option_strings(action.choices[word], argv[argv.index(word) + 1:])
                    break
    return options


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced by something without a file
        pass


if __name__ == "__main__":
    sys.exit(main())
