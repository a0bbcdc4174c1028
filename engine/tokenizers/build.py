"""Training a tokenizer from texts: every kind is a Hugging Face `tokenizers.Tokenizer`.

word        WordLevel over `text.lower().split()` (WhitespaceSplit)
regex-word  WordLevel over `\\w+|[^\\w\\s]+` (punctuation split off)
char        WordLevel over single characters, spaces included
bpe         BPE, SentencePiece-style: a word starts with "▁", decode restores single spaces
wordpiece   WordPiece over `\\w+|[^\\w\\s]+`, "##" marks a word's continuation (BERT-style)
unigram     Unigram, SentencePiece-style like bpe
"""

from __future__ import annotations

from collections.abc import Iterator

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers as tk_trainers

from engine.core.errors import EngineError, JobContext
from engine.protocol import TokenizerTrain
from engine.tokenizers import specials as S

KINDS = ("word", "regex-word", "char", "bpe", "wordpiece", "unigram")
CHUNK = 256  # texts handed to the trainer at a time: one progress report and cancel check each
READ_SHARE = 0.9  # share of the progress bar spent reading texts; the rest is the model's fit
METASPACE = "▁"


MAX_VOCAB = 2_000_000  # the tokenizers library allocates per token: far beyond any real vocabulary


def check_request(req: TokenizerTrain) -> None:
    """Raise EngineError when the request cannot give a tokenizer (before any text is read)."""
    if req.kind not in KINDS:
        raise EngineError(
            f"there is no tokenizer kind '{req.kind}'", hint="kinds are: " + ", ".join(KINDS)
        )
    if any(not s.strip() for s in req.specials):
        raise EngineError("a special token cannot be empty", hint="remove the empty entry")
    repeated = sorted({s for s in req.specials if req.specials.count(s) > 1})
    if repeated:
        raise EngineError(
            f"special token {repeated[0]} is listed twice", hint="list each special token once"
        )
    least = max(1, len(req.specials) + 1)
    if req.vocab_size < least:
        raise EngineError(
            f"vocab size must be at least {least}: room for the {len(req.specials)} special "
            f"tokens and one more (it is {req.vocab_size})",
            hint="choose a larger vocab size",
        )
    if req.vocab_size > MAX_VOCAB:
        raise EngineError(
            f"vocab size {req.vocab_size:,} is more than {MAX_VOCAB:,}: its trainer would need "
            "more memory than any machine has",
            hint="common sizes are 8,000 to 64,000",
            code="too_large",
        )
    if req.min_frequency < 1:
        raise EngineError(
            f"minimum frequency must be at least 1 (it is {req.min_frequency})",
            hint="1 keeps every token seen once",
        )
    if req.kind == "unigram" and req.min_frequency > 1:
        raise EngineError(
            "unigram training has no minimum frequency",
            hint="leave the minimum frequency at 1 for unigram, or choose bpe or wordpiece",
        )
    S.unk_special(req.specials)  # raises when there is no unknown token
    template_tokens(req.template, req.specials)  # raises when the template's tokens are missing


def template_tokens(template: str, specials: list[str]) -> tuple[str, str] | None:
    """The (before, after) specials a template adds; EngineError naming any that are missing."""
    if template == "none":
        return None
    roles: tuple[tuple[str, ...], tuple[str, ...]]
    if template == "cls-sep":
        roles, want = (S.CLS, S.SEP), "<CLS> and <SEP> (or [CLS] and [SEP])"
    elif template == "start-end":
        roles, want = (S.START, S.END), "<START> and <END> (or <s> and </s>, [BOS] and [EOS])"
    else:
        raise EngineError(
            f"there is no template '{template}'", hint="templates are: none, cls-sep, start-end"
        )
    first, last = S.find_role(specials, roles[0]), S.find_role(specials, roles[1])
    if first is None or last is None:
        raise EngineError(
            f"the {template} template needs the special tokens {want}; specials are: "
            + (", ".join(specials) or "none"),
            hint=f"add {want} to the special tokens, or choose template none",
        )
    return first, last


def _empty_model(kind: str, unk: str) -> Tokenizer:
    if kind in ("word", "regex-word", "char"):
        return Tokenizer(models.WordLevel(unk_token=unk))
    if kind == "bpe":
        return Tokenizer(models.BPE(unk_token=unk))
    if kind == "wordpiece":
        return Tokenizer(models.WordPiece(unk_token=unk))
    return Tokenizer(models.Unigram())


def _trainer(req: TokenizerTrain, unk: str) -> tk_trainers.Trainer:
    size, specials, freq = req.vocab_size, req.specials, req.min_frequency
    if req.kind in ("word", "regex-word", "char"):
        return tk_trainers.WordLevelTrainer(
            vocab_size=size, min_frequency=freq, special_tokens=specials, show_progress=False
        )
    if req.kind == "bpe":
        return tk_trainers.BpeTrainer(
            vocab_size=size, min_frequency=freq, special_tokens=specials, show_progress=False
        )
    if req.kind == "wordpiece":
        return tk_trainers.WordPieceTrainer(
            vocab_size=size, min_frequency=freq, special_tokens=specials, show_progress=False
        )
    return tk_trainers.UnigramTrainer(
        vocab_size=size, special_tokens=specials, unk_token=unk, show_progress=False
    )


def _pipeline(tok: Tokenizer, kind: str, lowercase: bool) -> None:
    """Normalizer, pre-tokenizer and decoder of a kind, set on the tokenizer."""
    steps: list[normalizers.Normalizer] = []
    if kind in ("bpe", "unigram"):
        # Metaspace splits on " " only: fold every whitespace run into one space first.
        steps += [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
    if lowercase:
        steps.append(normalizers.Lowercase())
    if steps:
        tok.normalizer = steps[0] if len(steps) == 1 else normalizers.Sequence(steps)
    if kind == "word":
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    elif kind in ("regex-word", "wordpiece"):
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
    elif kind == "char":
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), "isolated")
        tok.decoder = decoders.Fuse()
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE)
        tok.decoder = decoders.Metaspace(replacement=METASPACE)
    if kind == "wordpiece":
        tok.decoder = decoders.WordPiece(prefix="##")


def set_template(tok: Tokenizer, template: str, specials: list[str]) -> None:
    """Attach the post-processor that adds the template's specials around each text."""
    pair = template_tokens(template, specials)
    if pair is None:
        tok.post_processor = None
        return
    first, last = pair
    ids = [(t, tok.token_to_id(t)) for t in dict.fromkeys((first, last))]
    missing = [t for t, i in ids if i is None]
    if missing:
        raise EngineError(
            f"the vocabulary has no {missing[0]}", hint="retrain with it as a special"
        )
    tok.post_processor = processors.TemplateProcessing(
        single=f"{first} $A {last}",
        pair=f"{first} $A {last} $B:1 {last}:1",
        special_tokens=[(t, int(i)) for t, i in ids if i is not None],
    )


def _chunks(texts: list[str], ctx: JobContext) -> Iterator[list[str]]:
    total = len(texts)
    for start in range(0, total, CHUNK):
        ctx.check_cancelled()
        ctx.progress(READ_SHARE * start, total, f"reading texts {start:,} of {total:,}")
        yield texts[start : start + CHUNK]
    ctx.check_cancelled()
    ctx.progress(READ_SHARE * total, total, "building the vocabulary")


def train_tokenizer(req: TokenizerTrain, texts: list[str], ctx: JobContext) -> Tokenizer:
    """A new tokenizer of req.kind trained on texts, with req's specials first in their order.

    Reports progress to ctx while reading texts and raises Cancelled when ctx says so.
    """
    check_request(req)
    if not texts:
        raise EngineError(
            f"{where_of(req)} has no texts to train on",
            hint="choose another split, or split the dataset first",
            code="empty",
        )
    unk = S.unk_special(req.specials)
    tok = _empty_model(req.kind, unk)
    _pipeline(tok, req.kind, req.lowercase)
    tok.train_from_iterator(_chunks(texts, ctx), _trainer(req, unk), length=len(texts))
    ctx.check_cancelled()
    if tok.get_vocab_size() <= len(req.specials):
        raise EngineError(
            f"{where_of(req)} gave no tokens beyond the special ones",
            hint="lower the minimum frequency",
            code="empty",
        )
    set_template(tok, req.template, req.specials)
    ctx.progress(len(texts), len(texts), "trained")
    return tok


def where_of(req: TokenizerTrain) -> str:
    """ "dataset 'x' split 'train'" for messages."""
    return f"dataset '{req.dataset}'" + (f" split '{req.split}'" if req.split else "")
