"""How many T5 tokens a caption is, and which of its characters T5 cannot encode.

Every CogVideoX trainer encodes the caption with T5's SentencePiece tokenizer, padded and
truncated to the model's limit (`ModelSpec.t5_max_tokens`) with `truncation=True` and no
warning; the tokenizer adds one EOS token (`</s>`), which the limit includes.

Two counters, one interface:
- `SentencePieceCounter`: exact. It needs the optional `sentencepiece` package
  (`pip install 'cogvid-lint[t5]'`) and the model's own `tokenizer/spiece.model`, found on
  disk (`find_spiece_model`: the launch script's model path, then the Hugging Face cache);
  nothing is ever downloaded.
- `BoundCounter`: without either, a lower bound computed from the text alone, and a short
  list of characters known to be missing from T5's vocabulary.

The lower bound. A SentencePiece model keeps a piece only if it passes the trainer's
validity test (google/sentencepiece src/trainer_interface.cc `IsValidSentencePiece`): with
the defaults `split_by_whitespace` and `split_by_unicode_script`, the whitespace mark `▁`
may only start a piece, and no piece mixes two Unicode scripts. Encoding can only use pieces
of the vocabulary, so for the default options:
- no piece spans two whitespace-separated words: each word that survives normalization is
  at least one piece;
- no piece holds an ASCII letter (script Latin) right next to ASCII punctuation (script
  Common): each such adjacency inside a word starts a new piece.
The second needs the letter itself to be in the vocabulary, since adjacent unknown
characters merge into one `<unk>` piece: T5's has every ASCII letter (and `▁`), as it must
to spell any English word.
Digits are left out on purpose: with `split_by_number=false` they join any script (and T5
has pieces like `▁1-`, huggingface/transformers#6917), and so is every non-ASCII character
(it might normalize away, or be a combining mark), so the bound holds for either setting.
The bound assumes T5's model kept the two defaults above; nothing offline shows its trainer
options, but its published tokenizations agree (`1-${phone.number}` → `▁1-`, `$`, `{`,
`phone`, `.`, `num`, `ber`, `}`: no piece crosses a letter/punctuation edge). A test trains
small models with SentencePieceTrainer and checks bound <= exact on a caption corpus.
(Counting digit runs and punctuation runs as separate pieces, as a first draft did, is not
a lower bound: `▁1-` is one piece.)
"""

from __future__ import annotations

import glob
import os
import re
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

EOS = 1  # `</s>`, appended by T5Tokenizer(Fast) to every caption

# What HF's T5 tokenizers read as one special token whatever the text around it: literal
# text in a caption, but one token each (and a word boundary), never SentencePiece pieces.
_SPECIAL = re.compile(r"</s>|<pad>|<unk>|<extra_id_(?:\d{1,2})>")
# SentencePiece's normalizer (nmt_nfkc) treats these as whitespace; other characters that
# Python calls whitespace are left to it (they count as no word boundary here: still a bound).
_WORDS = re.compile(r"[^ \t\n\r]+")
_PUNCT = r"!-/:-@\[-`{-~"  # ASCII punctuation and symbols (script Common; digits excluded)
# A letter followed by a non-ASCII character might compose with it (a + U+0301 -> á), which
# may be unknown and merge with an unknown neighbour: only a letter followed by ASCII counts.
_EDGE = re.compile(rf"[A-Za-z](?=[{_PUNCT}])|[{_PUNCT}](?=[A-Za-z](?:[\x00-\x7f]|$))")
_CLASSES = {**{c: "L" for c in range(ord("A"), ord("z") + 1) if chr(c).isalpha()},
            **{ord(c): "P" for c in "".join(chr(i) for i in range(0x21, 0x7F)) if not c.isalnum()}}
_ASCII_VISIBLE = re.compile(r"[!-~]")  # never removed by normalization: the word is a piece

# Characters known to be missing from T5's vocabulary, for when no spiece.model is at hand
# (an exact check finds every one):
# - `{`, `}`: "we intentionally removed any pages with { or } from C4"
#   (google-research/text-to-text-transfer-transformer#390, a T5 author);
# - `<`: "the T5 sentencepiece vocabulary does not have the token '<'" (same repo, #657);
# - `í` (huggingface/transformers#7751: Rodríguez → Rodr ⁇ guez), `ő` (#657: győri → gy ⁇ ri);
# - scripts T5's vocabulary was not trained on (English, German, French, Romanian):
#   CJK ideographs, kana, Hangul, and emoji.
KNOWN_MISSING_CHARS = frozenset("{}<íő")
_KNOWN_MISSING_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x1F300, 0x1FAFF),  # emoji and pictographs
    (0x20000, 0x2FA1F),  # CJK Extensions B-F, compatibility supplement
)
_MISSING = re.compile("[" + re.escape("".join(sorted(KNOWN_MISSING_CHARS)))
                      + "".join(f"{chr(a)}-{chr(b)}" for a, b in _KNOWN_MISSING_RANGES) + "]+")


@dataclass(frozen=True)
class Count:
    """A caption's T5 length, EOS included: exact, or a lower bound."""

    tokens: int
    exact: bool
    # when tokens > the limit: the 0-based index of the first word the limit cuts into (for
    # a bound: the latest it can be), and the caption's word count
    cut_word: int | None = None
    words: int = 0


def split_words(text: str) -> list[str]:
    """The caption's words, split where SentencePiece's normalizer sees whitespace."""
    if text.isascii() and text.replace("\t", " ").isprintable():
        # visible ASCII, spaces and tabs: str.split's whitespace is exactly those here (3x faster)
        return text.split()
    return _WORDS.findall(text)


def _segments(text: str) -> tuple[list[str], int]:
    """The text between HF's special tokens, and how many of those there are."""
    if "<" not in text:
        return [text], 0
    parts = _SPECIAL.split(text)
    return parts, len(parts) - 1


class BoundCounter:
    """A lower bound on the token count, from the text alone (see the module docstring)."""

    exact = False

    @staticmethod
    def pieces(text: str) -> int:
        """At least this many tokens for `text`, EOS not included."""
        if text.isascii() and text.replace("\t", " ").isprintable() and "<" not in text:
            # the common case, at C speed: every word is visible ASCII; an edge is an adjacent
            # letter/punctuation pair in the text mapped to classes (LP and PL never overlap)
            classes = text.translate(_CLASSES)
            return len(text.split()) + classes.count("LP") + classes.count("PL")
        return BoundCounter.regex_pieces(text)

    @staticmethod
    def regex_pieces(text: str) -> int:
        """`pieces` for any text."""
        parts, specials = _segments(text)
        joined = " ".join(parts)  # a special token is a word boundary, and one token itself
        words = sum(1 for w in _WORDS.findall(joined) if _ASCII_VISIBLE.search(w))  # else it might normalize away
        return specials + words + len(_EDGE.findall(joined))

    def count(self, text: str, limit: int) -> Count:
        tokens = EOS + self.pieces(text)
        if tokens <= limit:
            return Count(tokens, False)
        words = list(_WORDS.finditer(text))
        if "<" in text:  # special tokens: word by word
            per_word = [self.pieces(w.group()) for w in words]
        else:  # one pass: each edge counted in the word it falls in
            edges = [m.start() for m in _EDGE.finditer(text)]
            per_word = [(1 if _ASCII_VISIBLE.search(w.group()) else 0)
                        + bisect_left(edges, w.end()) - bisect_left(edges, w.start()) for w in words]
        return Count(tokens, False, _cut_word(per_word, limit), len(words))

    def unknown(self, text: str) -> list[str]:
        """The runs of characters known to be missing from T5's vocabulary."""
        if text.isascii() and "{" not in text and "}" not in text and "<" not in text:
            return []
        return _MISSING.findall(text)


class SentencePieceCounter:
    """Exact counts with the model's own spiece.model (one processor per run)."""

    exact = True

    def __init__(self, processor: Any, source: Path):
        self.processor = processor
        self.source = source
        self.unk_id = processor.unk_id()

    def pieces(self, text: str) -> int:
        """The tokens of `text`, EOS not included."""
        parts, specials = _segments(text)
        if not specials:
            return len(self.processor.encode(text))
        return specials + sum(len(ids) for ids in self.processor.encode(parts))

    def count(self, text: str, limit: int) -> Count:
        tokens = EOS + self.pieces(text)
        if tokens <= limit:
            return Count(tokens, True)
        # Where the cut falls: the pieces of each word (pieces never span whitespace in
        # T5's model, so these add up to the whole caption's)
        words = split_words(text)
        per_word = [len(ids) for ids in self.processor.encode(words)] if "<" not in text \
            else [self.pieces(w) for w in words]
        return Count(tokens, True, _cut_word(per_word, limit), len(words))

    def unknown(self, text: str) -> list[str]:
        """The surface text of the pieces T5 encodes as <unk> (normalized, as T5 sees it)."""
        ids = self.processor.encode(text)
        if self.unk_id not in ids:
            return []
        pieces = self.processor.encode(text, out_type=str)
        return [piece.lstrip("\u2581") for piece, i in zip(pieces, ids) if i == self.unk_id
                and piece.lstrip("\u2581")]


def _cut_word(per_word: Sequence[int], limit: int) -> int | None:
    """The first word whose pieces reach past the `limit - EOS` that are kept."""
    kept = limit - EOS
    total = 0
    for index, pieces in enumerate(per_word):
        total += pieces
        if total > kept:
            return index
    return None


# -- finding the model's spiece.model (never a download) --------------------------------

HUB_NAMES = ("models--THUDM--CogVideoX*", "models--zai-org--CogVideoX*")


def hub_cache(env: Mapping[str, str], home: Path) -> Path:
    """The Hugging Face hub cache: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub
    (huggingface_hub's own order)."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else home / ".cache"
    return base / "huggingface" / "hub"


def find_spiece_model(model_paths: Iterable[str], bases: Sequence[Path], env: Mapping[str, str],
                      home: Path) -> Path | None:
    """The `tokenizer/spiece.model` of the model the run trains: a local model folder the
    launch script names (relative to `bases`, in order), that model's snapshot in the HF
    cache, else any CogVideoX snapshot there (they all ship T5 v1.1's one tokenizer)."""
    cache = hub_cache(env, home)
    for name in model_paths:
        raw = Path(name).expanduser()
        for folder in ([raw] if raw.is_absolute() else [base / raw for base in bases]):
            for candidate in (folder / "tokenizer" / "spiece.model", folder / "spiece.model"):
                if candidate.is_file():
                    return candidate
        if re.fullmatch(r"[\w.-]+/[\w.-]+", name):  # a hub id: its snapshot in the cache
            found = _snapshots(cache, glob.escape("models--" + name.replace("/", "--")))
            if found:
                return found
    for pattern in HUB_NAMES:
        found = _snapshots(cache, pattern)
        if found:
            return found
    return None


def _snapshots(cache: Path, pattern: str) -> Path | None:
    try:
        found = sorted(glob.glob(os.path.join(glob.escape(str(cache)), pattern, "snapshots", "*", "tokenizer",
                                              "spiece.model")))
    except OSError:
        return None
    return Path(found[-1]) if found else None


def load_processor(path: Path) -> tuple[Any | None, str]:
    """(a SentencePieceProcessor of `path`, "") or (None, why not), in one line."""
    try:
        import sentencepiece
    except ImportError:
        return None, "sentencepiece is not installed"
    try:
        processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        return None, f"cannot read {path}: {' '.join(str(exc).split())[:160]}"
    return processor, ""
