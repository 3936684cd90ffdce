"""The caption rules' T5 counts (cogvid_lint.t5): the lower bound is one, and the exact path
reads the model's own spiece.model from a launch script's model path or the HF cache.

No T5 spiece.model ships in any PyPI package (the sentencepiece wheel holds no model), so the
exact path is tested with small SentencePiece models trained here, from a corpus of
real-looking captions, by `sentencepiece.SentencePieceTrainer` with T5's options left at
their defaults — what the bound's derivation assumes of T5's model.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import COGVID_LINT, build_project
from cogvid_lint import t5

spm = pytest.importorskip("sentencepiece")

_SUBJECTS = ["a golden retriever", "an old man in a grey coat", "two children", "a red vintage car",
             "the camera", "a woman with long dark hair", "a flock of birds", "waves", "a chef", "U.S. soldiers"]
_ACTIONS = ["runs across", "walks slowly through", "pans over", "drives along", "dances in", "flies above",
            "crashes against", "chops vegetables in", "zooms into", "stands still in"]
_PLACES = ["a sunlit meadow", "a busy city street at night", "the rocky shore", "a small kitchen",
           "a snowy forest (4K, 16:9)", "an empty warehouse", "the old town's market", "a 1980s living room"]
_TAILS = ["The lighting is warm and soft.", "Shot on 35mm film, shallow depth of field.",
          "The mood is calm; colors are muted.", "Close-up, handheld, 24fps.", "It's raining - heavily!",
          "Style: cinematic, high-contrast, e.g. film noir.", "Wide-angle shot at 1/1000s.", "\"Quiet\" scene...",
          "A title card reads {The End}.", "The quick brown fox jumps over the lazy dog.",
          "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG."]


def _captions(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        sentences = [f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_ACTIONS)} {rng.choice(_PLACES)}."
                     for _ in range(rng.randint(1, 6))]
        sentences += rng.sample(_TAILS, rng.randint(0, 3))
        out.append(" ".join(sentences))
    return out


def _train(corpus: list[str], **options) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, minloglevel=2,
                                   hard_vocab_limit=False, character_coverage=1.0, **options)
    return model.getvalue()


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    """Small models: unigram (T5's kind) at two vocabulary sizes, one without split_by_number,
    and a BPE one. The corpus has every ASCII letter, as T5's vocabulary does (the bound relies
    on it: adjacent unknown characters merge into one <unk>), and no `é`, so every model lacks it."""
    corpus = _captions(3000)
    return {
        "unigram-400": _train(corpus, vocab_size=400),
        "unigram-1500": _train(corpus, vocab_size=1500),
        "no-split-by-number": _train(corpus, vocab_size=800, split_by_number=False),
        "bpe": _train(corpus, vocab_size=600, model_type="bpe"),
    }


def _counter(model: bytes) -> t5.SentencePieceCounter:
    return t5.SentencePieceCounter(spm.SentencePieceProcessor(model_proto=model), Path("spiece.model"))


_TRICKY = ["1-${phone.number}", "don't stop", "U.S.A.", "e.g.,", "a\u0301.", "\u200b", "\u200b a", "Ａ ｂ",
           "tab\tseparated", "a <unk> b", "x</s>y", "<extra_id_0>", "<pad><pad>", "闪电 and 雷鸣", "cat 🐱!",
           "Rodríguez", "{braces}", "~tilde~", "^^", "(((nested)))", "4K/60fps", "16:9", "...", "— em dash —",
           "a\x0bb", "\x01", "", "   ", "naïve café", "x" * 300, "a," * 100]


@pytest.mark.parametrize("name", ["unigram-400", "unigram-1500", "no-split-by-number", "bpe"])
def test_the_bound_is_a_lower_bound(models, name):
    exact = _counter(models[name])
    for text in _captions(400, seed=11) + _TRICKY:
        assert t5.BoundCounter.pieces(text) <= exact.pieces(text), (name, text)
        assert t5.BoundCounter.regex_pieces(text) <= exact.pieces(text), (name, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("abcXYZ019 .,-'(){}<>/:;!?_\t") + ["é", "闪", "\u0301", "🐱", "</s>",
                                                                        "<unk>", "\u00a0"]),
                max_size=60).map("".join))
def test_the_bound_holds_on_any_text(models, text):
    exact = _counter(models["unigram-400"])
    assert t5.BoundCounter.pieces(text) <= exact.pieces(text), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x09, max_codepoint=0x7E), max_size=80))
def test_the_fast_ascii_bound_equals_the_regex_one(text):
    assert t5.BoundCounter.pieces(text) == t5.BoundCounter.regex_pieces(text), text


def test_per_word_counts_add_up_to_the_caption(models):
    """What the cut position relies on: no piece spans whitespace."""
    exact = _counter(models["unigram-1500"])
    for text in _captions(200, seed=3):
        words = t5.split_words(text)
        assert sum(exact.pieces(w) for w in words) == exact.pieces(text), text


def test_counts_include_eos_and_find_the_cut(models):
    exact = _counter(models["unigram-1500"])
    text = " ".join(_captions(40, seed=5))
    pieces = exact.processor.encode(t5.split_words(text))
    count = exact.count(text, 226)
    assert count.exact and count.tokens == len(exact.processor.encode(text)) + 1
    kept, index = 0, 0
    while kept + len(pieces[index]) <= 225:  # 225 pieces and the EOS are kept
        kept += len(pieces[index])
        index += 1
    assert count.cut_word == index
    bound = t5.BoundCounter().count(text, 226)
    assert not bound.exact and bound.tokens <= count.tokens
    assert bound.cut_word is None or bound.cut_word >= count.cut_word  # the latest the cut can be


def test_unknown_characters_exact_and_known(models):
    exact = _counter(models["unigram-1500"])
    # the corpus has `{` and `}` but no `é`, CJK or emoji: the vocabulary decides, not the list
    assert exact.unknown("a café {the} under 闪电 🐱") == ["é", "闪电", "🐱"]
    assert exact.unknown("A dog runs (fast) {the end}.") == []
    assert t5.BoundCounter().unknown("a {x} < y, café 闪电 🐱 Rodríguez") == ["{", "}", "<", "闪电", "🐱", "í"]
    assert t5.BoundCounter().unknown("plain English, (brackets) and 4K/60fps!") == []


def test_no_sentencepiece_is_one_reason(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    assert t5.load_processor(tmp_path / "spiece.model") == (None, "sentencepiece is not installed")


def test_hub_cache_order(tmp_path):
    home = tmp_path / "home"
    assert t5.hub_cache({}, home) == home / ".cache" / "huggingface" / "hub"
    assert t5.hub_cache({"XDG_CACHE_HOME": "/x"}, home) == Path("/x/huggingface/hub")
    assert t5.hub_cache({"HF_HOME": "/h", "XDG_CACHE_HOME": "/x"}, home) == Path("/h/hub")
    assert t5.hub_cache({"HF_HUB_CACHE": "/c", "HF_HOME": "/h"}, home) == Path("/c")


def test_find_spiece_model(tmp_path):
    cache = tmp_path / "hub"
    env = {"HF_HUB_CACHE": str(cache)}
    assert t5.find_spiece_model([], [tmp_path], env, tmp_path) is None
    any_cogvideox = cache / "models--THUDM--CogVideoX-2b" / "snapshots" / "abc" / "tokenizer" / "spiece.model"
    named = cache / "models--someone--my-cogvideox" / "snapshots" / "def" / "tokenizer" / "spiece.model"
    local = tmp_path / "scripts" / "ckpt" / "tokenizer" / "spiece.model"
    for path in (any_cogvideox, named, local):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    assert t5.find_spiece_model([], [tmp_path], env, tmp_path) == any_cogvideox
    assert t5.find_spiece_model(["someone/my-cogvideox"], [tmp_path], env, tmp_path) == named
    assert t5.find_spiece_model(["ckpt"], [tmp_path / "scripts", tmp_path], env, tmp_path) == local
    assert t5.find_spiece_model([str(local.parent.parent)], [], env, tmp_path) == local


# -- through the installed command ----------------------------------------------------------

def _lint(root: Path, *args: str, env: dict | None = None) -> list[dict]:
    proc = subprocess.run([COGVID_LINT, *args, "--output-format", "json"], cwd=root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)["diagnostics"]


def _dataset(captions: list[str]) -> dict[str, str]:
    return {"data/prompts.txt": "".join(c + "\n" for c in captions),
            "data/videos.txt": "".join(f"v/{i}.mp4\n" for i in range(len(captions)))}


def test_exact_count_from_the_launch_scripts_model_path(models, tmp_path):
    model = models["unigram-400"]
    # 120 words: far under the limit by the bound, over it with this small vocabulary
    caption = " ".join(" ".join(_captions(30, seed=9)).split()[:120])
    files = _dataset(["A dog runs.", caption])
    files["train.sh"] = ("python finetune/train.py --data_root data --model_name cogvideox-t2v "
                         "--model_path ckpt --train_resolution 49x480x720\n")
    build_project(tmp_path, files)
    (tmp_path / "ckpt" / "tokenizer").mkdir(parents=True)
    (tmp_path / "ckpt" / "tokenizer" / "spiece.model").write_bytes(model)
    found = [d for d in _lint(tmp_path, "--select", "CVL020") if d["code"] == "CVL020"]
    tokens = len(spm.SentencePieceProcessor(model_proto=model).encode(caption)) + 1
    assert tokens > 226 > 121
    assert [(d["path"], d["line"]) for d in found] == [("data/prompts.txt", 2)]
    message = found[0]["message"]
    assert f"caption is {tokens} T5 tokens" in message and "at least" not in message
    assert f"exact, with {tmp_path / 'ckpt' / 'tokenizer' / 'spiece.model'}" in message


def test_exact_unknowns_from_the_hf_cache(models, tmp_path):
    snapshot = tmp_path / "hf" / "models--THUDM--CogVideoX-5b" / "snapshots" / "0123abc" / "tokenizer"
    snapshot.mkdir(parents=True)
    (snapshot / "spiece.model").write_bytes(models["unigram-1500"])
    build_project(tmp_path / "p", _dataset(["A dog runs across a café (on the left).",
                                           "A dog runs across a meadow (on the left)."]))
    found = _lint(tmp_path / "p", "--data-root", "data", "--select", "CVL021",
                  env={"HF_HUB_CACHE": str(tmp_path / "hf")})
    assert [(d["line"], d["code"]) for d in found] == [(1, "CVL021")]
    assert "'é'" in found[0]["message"] and "exact, with" in found[0]["message"]
    assert "known to be missing" not in found[0]["message"]


def test_unreadable_spiece_model_falls_back_to_the_bound(tmp_path):
    snapshot = tmp_path / "hf" / "hub" / "models--THUDM--CogVideoX-5b" / "snapshots" / "0" / "tokenizer"
    snapshot.mkdir(parents=True)
    (snapshot / "spiece.model").write_bytes(b"not a model")
    build_project(tmp_path / "p", _dataset([" ".join(["word"] * 260)]))
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_CACHE"}
    env["HF_HOME"] = str(tmp_path / "hf")
    proc = subprocess.run([COGVID_LINT, "--data-root", "data", "--select", "CVL020", "--output-format", "json"],
                          cwd=tmp_path / "p", capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    (finding,) = json.loads(proc.stdout)["diagnostics"]
    assert "at least 261 T5 tokens" in finding["message"]
    assert f"a lower bound: cannot read {snapshot / 'spiece.model'}" in finding["message"]


def test_sat_labels_are_captions(tmp_path):
    build_project(tmp_path, {"data/videos/a.mp4": b"", "data/labels/a.txt": "a dog\nsecond line is never read\n",
                             "data/videos/b.mp4": b"",
                             "data/labels/b.txt": "A brown dog runs across a field\n"})
    found = _lint(tmp_path, "--data-root", "data", "--select", "CVL022")
    assert [(d["path"], d["line"]) for d in found] == [("data/labels/a.txt", 1)]
    assert "caption has 2 words" in found[0]["message"]
