"""Read training launch scripts (shell) for the trainer they run and the settings they pass.

A script's tokens (shlex, simple `$VAR`/`${VAR}` assignments expanded, bash arrays included)
name a trainer (cogvid_lint.trainers.detect: its entry point and flags); that trainer's
profile says which flags it reads, and reads the files they name (finetrainers' dataset
JSON, SAT's YAML configs). A script naming no trainer but passing `--data_root` is CogVideo
`finetune/`'s, as it always was. A file that cannot be read is one line in `problems`.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from typing import Any

from cogvid_lint import trainers
from cogvid_lint.remote.urls import is_url, to_path
from cogvid_lint.settings import Source

# Flags whose mention makes a shell script worth reading (each trainer's data root flag).
DATA_FLAGS = (b"--data_root", b"--instance_data_root", b"--dataset_config", b"train_video.py")

_SKIP_DIRS = {".git", ".hg", "node_modules", "__pycache__", ".venv", "venv", "env", ".tox", ".cogvid-lint",
              ".cogvid_lint_cache", "site-packages"}
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
# Longest expansion kept: `A=$A$A` repeated doubles a value per line (2^40 bytes after 40).
_MAX_EXPANDED = 4096


@dataclass(frozen=True)
class LaunchSettings:
    script: Path
    trainer: str = trainers.DEFAULT
    values: dict[str, Any] = field(default_factory=dict)  # dataset keys
    options: dict[str, Any] = field(default_factory=dict)  # the trainer's own options
    lines: dict[str, int] = field(default_factory=dict)  # key -> 1-based line in the script
    sources: dict[str, Source] = field(default_factory=dict)  # keys read from another file

    def source(self, key: str) -> Source:
        return self.sources.get(key) or Source.in_file(self.script, self.lines.get(key, 1))


def find_launch_scripts(root: Path, max_depth: int = 4) -> list[Path]:
    """Shell scripts under `root` that mention a trainer's data flag (cheap text test first)."""
    found = []
    root = root.resolve()
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".") and depth < max_depth)
        for name in sorted(files):
            if name.endswith(".sh"):
                path = Path(folder) / name
                try:
                    head = path.read_bytes()[:1_000_000]
                    if any(flag in head for flag in DATA_FLAGS):
                        found.append(path)
                except OSError:
                    continue
    return found


def read_launch_script(path: Path, problems: list[str] | None = None) -> list[LaunchSettings]:
    """One LaunchSettings per data root the script's trainer is given (usually one)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    variables: dict[str, str] = {}
    tokens: list[tuple[str, int]] = []
    for lineno, line in enumerate(_logical_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        assign = _ASSIGN.match(line)
        if assign and not assign.group(2).strip().startswith("("):
            value = _split(assign.group(2))
            variables[assign.group(1)] = _expand(value[0] if value else "", variables)
            continue
        for token in _split(line):
            tokens.append((_expand(token, variables), lineno))
    words = [token for token, _ in tokens]
    profile = trainers.detect(words)
    if profile is None:
        if not any(w.split("=", 1)[0] == "--data_root" for w in words):
            return []
        profile = trainers.get(trainers.DEFAULT)
    flags = profile.launch.flags
    # The trainer's source: the line of the token naming its entry point (else the data root's)
    entry_line = next((line for token, line in tokens for entry in profile.launch.entry_points
                       if trainers.names_entry(token, entry)), None)
    # One run per data root; flags before the first one (model args often come first)
    # belong to that first run.
    results: list[LaunchSettings] = [LaunchSettings(script=path, trainer=profile.name)]
    for i, (token, lineno) in enumerate(tokens):
        flag, eq, inline = token.partition("=")
        key = flags.get(flag)
        if key is None:
            continue
        if eq:
            value: Any = inline
        else:
            following = []
            for word, _ in tokens[i + 1:]:
                if word.startswith("--"):
                    break
                following.append(word)
            # a switch (--load_tensors) has no value; a list flag (--base a.yaml b.yaml) several
            value = True if not following else (following if flag in profile.launch.lists else following[0])
        current = results[-1]
        if key == "data_root" and key in current.values:
            current = LaunchSettings(script=path, trainer=profile.name)
            results.append(current)
        if key.startswith("option:"):
            current.options[key[len("option:"):]] = value
        else:
            current.values[key] = value
        current.lines[key.removeprefix("option:")] = lineno
    found = []
    for run in results:
        for values, options, sources in profile.from_launch(run.values, run.options, _Reader(path, problems)):
            lines = dict(run.lines)
            if entry_line is not None:
                lines["trainer"] = entry_line
            if "train_resolution" not in lines:  # assembled by the profile from several flags
                lines["train_resolution"] = min((run.lines[k] for k in ("max_num_frames", "height", "width",
                                                 "frame_buckets", "video_resolution_buckets") if k in run.lines),
                                                default=1)
            found.append(LaunchSettings(script=path, trainer=profile.name, values=values, options=options,
                                        lines=lines, sources=sources))
    return [r for r in found if "data_root" in r.values]


class _Reader:
    """What a profile uses to read the files a script names (a dataset JSON, a YAML config):
    relative paths resolved as the script's working folder would (its own folder), every
    problem one line naming the file."""

    def __init__(self, script: Path, problems: list[str] | None):
        self.script, self.problems = script, problems

    def path(self, name: str) -> Path:
        raw = Path(name).expanduser()
        return raw if raw.is_absolute() else Path(os.path.normpath(self.script.parent / raw))

    def load(self, name: str) -> tuple[Path, Any]:
        """(the file, its parsed content) — JSON or YAML by suffix; None content on a problem."""
        from cogvid_lint.bounded import BadDocument, load_json, load_yaml, read_text

        path = self.path(name)
        try:
            text = read_text(path)
            data = load_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else load_json(text)
        except BadDocument as exc:
            self.problem(path, str(exc))
            return path, None
        except Exception as exc:  # noqa: BLE001 - the parser's own error: one line, the rest still lints
            self.problem(path, " ".join(str(exc).split())[:200])
            return path, None
        return path, data

    def problem(self, path: Path, what: str) -> None:
        if self.problems is not None:
            self.problems.append(f"{path}: cannot read (named by {self.script}): {what}")


def resolve_data_root(settings: LaunchSettings, project_root: Path) -> Path:
    """Relative roots are tried against the script's folder, then the project root; a URL
    (`--data_root s3://bucket/data`) is the path that stands for it (remote.urls)."""
    text = settings.values["data_root"]
    if is_url(text):
        try:
            return to_path(text)
        except ValueError:
            pass  # an unknown scheme: read as the relative path it also is, found missing
    raw = Path(text).expanduser()
    if raw.is_absolute():
        return raw
    for base in (settings.script.parent, project_root):
        if (base / raw).exists():
            return Path(os.path.normpath(base / raw))
    return Path(os.path.normpath(settings.script.parent / raw))


def _logical_lines(text: str) -> list[str]:
    # Each physical line is tokenized on its own (a trailing `\\` dropped) so every flag keeps
    # the line number it is written on; flags and their values share a line in practice.
    return [line[:-1] if line.endswith("\\") else line for line in text.splitlines()]


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def _expand(token: str, variables: dict[str, str]) -> str:
    """`token` with its variables expanded; as written when that would pass _MAX_EXPANDED."""
    room = _MAX_EXPANDED - len(token)

    def value(match: re.Match[str]) -> str:
        nonlocal room
        found = variables.get(match.group(1) or match.group(2), match.group(0))
        room -= len(found)
        if room < 0:
            raise _TooLong
        return found

    try:
        return _VAR.sub(value, token)
    except _TooLong:
        return token


class _TooLong(Exception):
    pass
