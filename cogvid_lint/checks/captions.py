"""Caption rules (CVL02x): what T5 makes of each caption the trainer encodes.

They read text only: the captions discovery already read (SAT: the first line of each label
file), with one tokenizer per dataset per run (`Project.derive`), so each caption costs
microseconds. Exact with `sentencepiece` and the model's own `spiece.model`; otherwise a
lower bound and a list of characters known to be missing (cogvid_lint.t5).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from cogvid_lint import t5
from cogvid_lint.discover.project import Dataset, Project
from cogvid_lint.findings import Finding, Location
from cogvid_lint.registry import RuleContext, check

_LABEL_BYTES = 1 << 20  # a SAT label's first line is its caption; more is never a caption
_SHOWN_CHARS = 5


def _captions(dataset: Dataset) -> Iterator[tuple[Path, int, str]]:
    """(file, line, caption) for each caption the trainer reads."""
    if dataset.captions is not None and dataset.captions.error is None:
        for entry in dataset.captions.entries:
            yield entry.file, entry.line, entry.text
    for label in dataset.sat_labels:  # sat/data_video.py:388: the first line
        try:
            with open(label.file, "rb") as handle:
                head = handle.read(_LABEL_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        lines = head.splitlines()
        if lines and lines[0].strip():
            yield label.file, 1, lines[0]


def _as_encoded(dataset: Dataset, caption: str) -> tuple[str, str]:
    """The text the trainer encodes (its id token prepended, as that trainer does), and the
    words saying so in a message."""
    token = dataset.settings.id_token
    mode = dataset.profile.id_token if dataset.profile is not None else "caption"
    if token and mode == "glued":  # diffusers: `self.id_token + prompt`
        return token + caption, f", with the id token {token!r} {dataset.profile.title} glues to it"
    if token and mode == "prepended":  # finetrainers f"{id_token} {caption}", cogvideox-factory f"{id_token.strip()} "
        return f"{token.strip()} {caption}", f", with the id token {token.strip()!r} {dataset.profile.title} prepends"
    return caption, ""


def caption_counter(project: Project, dataset: Dataset) -> tuple[t5.BoundCounter | t5.SentencePieceCounter, str]:
    """The dataset's T5 counter and how it counts, in words (derived once per dataset a run)."""
    settings = dataset.settings
    model_path = (settings.trainer_options or {}).get("pretrained_model")
    trainer_source = settings.sources.get("trainer")
    bases = [b for b in (trainer_source.file.parent if trainer_source is not None and trainer_source.file else None,
                         project.root, project.settings.cwd) if b is not None]
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no passwd entry
        home = Path("/nonexistent")
    path = t5.find_spiece_model([model_path] if isinstance(model_path, str) else [], bases, os.environ, home)
    if path is None:
        return t5.BoundCounter(), ("a lower bound: no tokenizer/spiece.model in the launch script's model path or "
                                   "the Hugging Face cache")
    processor, why = project.derive(_processor, path)  # one per model file, whichever datasets share it
    if processor is None:
        return t5.BoundCounter(), f"a lower bound: {why}; pip install 'cogvid-lint[t5]' to count with {path}"
    return t5.SentencePieceCounter(processor, path), f"exact, with {path}"


def _processor(project: Project, path: Path):
    return t5.load_processor(path)


@check("dataset.caption_too_long", args=("tokens", "limit", "trainer", "model", "cut", "how", "with_token"))
def caption_too_long(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    spec = dataset.settings.model_spec
    if spec is None:  # an unknown model is CVL204's; its limit is unknown
        return
    limit = spec.t5_max_tokens
    counter, how = ctx.project.derive(caption_counter, dataset)
    trainer = dataset.profile.title if dataset.profile is not None else "the trainer"
    for file, line, caption in _captions(dataset):
        text, with_token = _as_encoded(dataset, caption)
        count = counter.count(text, limit)
        if count.tokens <= limit:
            continue
        words = t5.split_words(text)
        index = count.cut_word if count.cut_word is not None else len(words) - 1
        cut = f"from word {index + 1} of {count.words} ({words[index]!r}) on" if words else "its end"
        if not count.exact:
            cut += " at the latest"
        tokens = str(count.tokens) if count.exact else f"at least {count.tokens}"
        yield Finding(Location(file, line), {"tokens": tokens, "limit": limit, "trainer": trainer, "model": spec.name,
                                             "cut": cut, "how": how, "with_token": with_token})


@check("dataset.caption_unencodable", args=("chars", "how"))
def caption_unencodable(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    counter, how = ctx.project.derive(caption_counter, dataset)
    if not counter.exact:
        how = "from a list of characters known to be missing; " + how.removeprefix("a lower bound: ")
    for file, line, caption in _captions(dataset):
        found = list(dict.fromkeys(counter.unknown(caption)))
        if not found:
            continue
        shown = ", ".join(repr(run) for run in found[:_SHOWN_CHARS])
        if len(found) > _SHOWN_CHARS:
            shown += f" and {len(found) - _SHOWN_CHARS} more"
        yield Finding(Location(file, line), {"chars": shown, "how": how})


@check("dataset.caption_too_short", args=("words",))
def caption_too_short(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    minimum = ctx.params["min_words"]
    token = (dataset.settings.id_token or "").strip()
    for file, line, caption in _captions(dataset):
        words = [w for w in t5.split_words(caption) if not token or w.strip(",.;:") != token]
        if len(words) < minimum:
            yield Finding(Location(file, line), {"words": len(words)})
