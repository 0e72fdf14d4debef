"""Evidence from term contributions: the phrases that raised a label and the sentences
holding them, with character offsets so a UI can highlight them."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import itemgetter
from typing import NamedTuple

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from classifier.money import Amount, amounts

# Terms are whitespace tokens without edge punctuation, lower-cased; the model's attribution
# and the evidence here must cut text the same way, so both use these.
WS_TOKEN = re.compile(r"\S+")
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


def term_of(chunk: str) -> str:
    """The term a whitespace token stands for: lower-cased, edge punctuation removed."""
    lowered = chunk.lower()
    if lowered and _is_word_char(lowered[0]) and _is_word_char(lowered[-1]):
        return lowered  # most tokens: nothing to strip, no regex needed
    return _EDGE_PUNCT.sub("", lowered)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what \w matches in a str pattern


# A sentence ends at . ! or ? followed by white space (not "89.99" or "e.g.x"), or a newline;
# after the closing quotes or brackets (group 1) when there are any. Each alternative starts
# with a plain character, so the engine skips to the next [.!?\n] instead of trying a
# lookbehind at every position.
_BOUNDARY = re.compile(r"[.!?]([\"'\u201d\u2019)\]]*)\s+|\n+")
_SIGNATURE_START = re.compile(
    r"^\s*(--\s*$|sent from my|kind regards|best regards|regards|thanks,?$|thank you,?$"
    r"|yours (sincerely|faithfully)|cheers,?$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    terms: tuple[str, ...]
    quotes: tuple[Span, ...]


def sentences(text: str) -> list[Span]:
    """Sentences and lines of `text`, with offsets into it, blank ones dropped."""
    spans = []
    start = 0
    # a newline's boundary has no group 1: its end(1) is -1
    ends = [max(m.end(1), m.start()) for m in _BOUNDARY.finditer(text)]
    for end in [*ends, len(text)]:
        raw = text[start:end]
        stripped = raw.strip()
        if len(stripped) >= 2:
            offset = start + (len(raw) - len(raw.lstrip()))
            spans.append(Span(stripped, offset, offset + len(stripped)))
        start = end
    return spans


# One whitespace chunk, its term (edge punctuation removed) as group 1 when it has one.
_CHUNK = re.compile(r"(?=\S)[^\w\s]*(?:(\w(?:\S*\w)?)[^\w\s]*)?")


class _Cut(NamedTuple):
    """A lower-cased whitespace chunk that holds a term, cut once and remembered."""

    pair: tuple[str, str]  # (chunk, term)
    start: int  # where the term starts inside the chunk
    end: int
    usable: bool  # see `_usable`


# Cuts of distinct chunks remembered before the memory is cleared (None: no term in it); an
# entry costs about 200 bytes. Complaints repeat most of their words, so most chunks are
# found here rather than cut again.
CUT_CACHE_SIZE = 100_000
_cuts: dict[str, _Cut | None] = {}
_UNSEEN = _Cut(("", ""), 0, 0, False)  # a chunk not cut yet (no chunk cuts to an empty term)


def _cut(chunk: str) -> _Cut | None:
    match = _CHUNK.match(chunk)
    term = match.group(1) if match else None
    cut = _Cut((chunk, term), *match.span(1), _usable(term)) if match and term else None
    if len(_cuts) >= CUT_CACHE_SIZE:
        _cuts.clear()
    _cuts[chunk] = cut
    return cut


def _tokens(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, int, int]]]:
    """Per whitespace token with a term: (lower-cased token, term), and (term, start, end)
    with the offsets of the term inside the token (edge punctuation removed)."""
    lowered = text.lower()
    if len(lowered) != len(text):
        return _tokens_by_chunk(text)  # lower() lengthens a few letters, such as İ
    pairs, tokens, _ = _cuts_of(lowered, lowered.split())
    return pairs, tokens


def _cuts_of(
    lowered: str, chunks: list[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, int, int]], list[_Cut]]:
    """`_tokens` of a text whose lower case (`lowered`, cut into `chunks` at white space)
    has the text's length, and each token's cut: from the remembered cuts of its chunks, a
    dict lookup per chunk instead of a regex match object."""
    cuts = list(map(_cuts.get, chunks, repeat(_UNSEEN)))
    if _UNSEEN in cuts:
        cuts = [_cut(c) if cut is _UNSEEN else cut for c, cut in zip(chunks, cuts, strict=True)]
    pairs, tokens, kept = [], [], []
    find = lowered.find
    position = 0
    for chunk, cut in zip(chunks, cuts, strict=True):
        # only white space lies between the last chunk's end and this one's start
        position = find(chunk, position)
        if cut is not None:
            pair, start, end, _ = cut
            pairs.append(pair)
            tokens.append((pair[1], position + start, position + end))
            kept.append(cut)
        position += len(chunk)
    return pairs, tokens, kept


def _tokens_by_chunk(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, int, int]]]:
    """`_tokens` one chunk at a time, for text whose lower case has another length."""
    chunks, found = [], []
    for match in WS_TOKEN.finditer(text):
        lowered = match.group().lower()
        term = term_of(lowered)
        if not term:
            continue
        inner = lowered.find(term)
        chunks.append((lowered, term))
        found.append((term, match.start() + inner, match.start() + inner + len(term)))
    return chunks, found


def _usable(term: str) -> bool:
    """A word that can stand as evidence: not a stop word, a letter or an identifier."""
    return term not in ENGLISH_STOP_WORDS and len(term) > 1 and not _identifier(term)


def _identifier(term: str) -> bool:
    """Order numbers and amounts ("55812", "89.99") are facts, not reasons for a label."""
    if len(term) < 4 or term.isalpha():
        return False
    return sum(map(str.isdigit, term)) * 2 > len(term)


@dataclass(frozen=True)
class Passage:
    """A text cut once into terms and sentences; every label's evidence reuses the cuts."""

    text: str
    tokens: tuple[tuple[str, int, int], ...]
    # (lower-cased whitespace chunk, its term) per token, for the model's attribution
    chunks: tuple[tuple[str, str], ...]
    sentences: tuple[Span, ...]
    # the index into `sentences` of the sentence holding each token (-1: none, such as a
    # token that runs over a sentence end)
    sentence_of: tuple[int, ...]
    # where each term occurs, as indices into `tokens`, so a label's few chosen terms are
    # found without walking every token once per label
    occurrences: dict[str, list[int]]
    # the terms that can stand as evidence (see `_usable`), decided once per text
    usable: frozenset[str]
    # money amounts written in the text: the escalation signals and the drafts both need them
    amounts: tuple[Amount, ...]
    # every whitespace chunk of the lower-cased text, with a term or not: the features and
    # the language are read from them, so the text is lower-cased and split once
    words: tuple[str, ...] = ()

    @classmethod
    def of(cls, text: str) -> Passage:
        lowered = text.lower()
        words = lowered.split()  # the same white space as the regular expressions' \s
        cuts = _cuts_of(lowered, words) if len(lowered) == len(text) else None
        if cuts is None:  # lower() lengthens a few letters, such as İ
            chunks, tokens = _tokens_by_chunk(text)
        else:
            chunks, tokens, kept = cuts
        spans = sentences(text)
        occurrences: dict[str, list[int]] = {}
        for index, (term, _, _) in enumerate(tokens):
            occurrences.setdefault(term, []).append(index)
        usable = (
            frozenset(filter(_usable, occurrences))
            if cuts is None
            else frozenset(compress(map(itemgetter(1), chunks), map(itemgetter(3), kept)))
        )
        return cls(
            text,
            tuple(tokens),
            tuple(chunks),
            tuple(spans),
            _sentence_of(tokens, spans),
            occurrences,
            usable,
            tuple(amounts(text)),
            tuple(words),
        )


def _sentence_of(tokens: list[tuple[str, int, int]], spans: list[Span]) -> tuple[int, ...]:
    """Per token, the sentence that holds it whole (-1: none). Both are in text order and do
    not overlap, so the tokens a sentence holds are a run, found by two bisections."""
    starts = list(map(itemgetter(1), tokens))
    ends = list(map(itemgetter(2), tokens))
    holder = [-1] * len(tokens)
    for index, span in enumerate(spans):
        first = bisect_left(starts, span.start)
        last = bisect_right(ends, span.end, first)
        if last > first:
            holder[first:last] = [index] * (last - first)
    return tuple(holder)


def find_evidence(
    text: str | Passage,
    contributions: dict[str, float],
    *,
    max_terms: int = 5,
    max_quotes: int = 3,
    relative_floor: float = 0.15,
) -> Evidence:
    """The strongest positive terms, merged into phrases where adjacent, and their sentences."""
    passage = text if isinstance(text, Passage) else Passage.of(text)
    text, tokens = passage.text, passage.tokens
    # The eight strongest terms that are words rather than stop words or identifiers,
    # and within `relative_floor` of the strongest. Terms the attribution found outside
    # the passage's own cuts (rare) are judged on their own.
    usable, occurrences = passage.usable, passage.occurrences
    candidates = [
        (score, term)
        for term, score in contributions.items()
        if score > 0 and (term in usable or (term not in occurrences and _usable(term)))
    ]
    if not candidates:
        return Evidence((), ())
    # (score, term) pairs are distinct, so sorting gives what heapq.nlargest gives
    strongest = sorted(candidates, reverse=True)[:8]
    positive = {term: score for score, term in strongest}
    floor = strongest[0][0] * relative_floor
    chosen = [occurrences.get(t, ()) for score, t in strongest if score >= floor]
    indices = sorted(chain.from_iterable(chosen))
    # Adjacent chosen tokens (only white space between them) make one phrase.
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs:
            first, last = runs[-1]
            if index == last + 1 and not text[tokens[last][2] : tokens[index][1]].strip():
                runs[-1] = (first, index)
                continue
        runs.append((index, index))
    phrases: dict[str, float] = {}
    for first, last in runs:
        phrase = text[tokens[first][1] : tokens[last][2]].lower()
        # one word's score is its own (0 + score, as the sum of one is, for a positive score)
        score = (
            positive[tokens[first][0]]
            if first == last
            else sum(positive[t] for t in {tokens[r][0] for r in range(first, last + 1)})
        )
        phrases[phrase] = max(phrases.get(phrase, 0.0), score)
    terms = tuple(p for p, _ in sorted(phrases.items(), key=lambda kv: -kv[1])[:max_terms])
    if max_quotes == 0:  # terms only: the sentences are not looked for
        return Evidence(terms, ())
    inside: dict[int, set[str]] = {}  # sentence -> the chosen terms in it
    for index in indices:
        sentence = passage.sentence_of[index]
        if sentence >= 0:
            inside.setdefault(sentence, set()).add(tokens[index][0])
    scored = [
        (
            positive[next(iter(held))] if len(held) == 1 else sum(positive[t] for t in held),
            passage.sentences[sentence],
        )
        for sentence, held in sorted(inside.items())
    ]
    best = sorted(scored, key=lambda pair: -pair[0])[:max_quotes]
    quotes = tuple(sorted((span for _, span in best), key=lambda s: s.start))
    return Evidence(terms, quotes)


def summary(text: str | Passage, quotes: list[Span], *, limit: int = 420) -> str:
    """A one-paragraph summary: the complaint's key sentences in order, without quoted
    earlier correspondence or signatures, cut to `limit` characters."""
    passage = text if isinstance(text, Passage) else None
    whole = passage.text if passage else str(text)
    body = []
    for line in whole.splitlines():
        if _SIGNATURE_START.match(line):
            break
        if not line.lstrip().startswith(">"):
            body.append(line)
    own = "\n".join(body) or whole
    # the passage's sentences are the same cut when nothing was left out
    cut = list(passage.sentences) if passage and own == whole else sentences(own)
    picked = {q.text for q in quotes}
    chosen = [s.text for s in cut if s.text in picked] or [s.text for s in cut[:3]]
    paragraph = " ".join(" ".join(chosen).split())
    return paragraph if len(paragraph) <= limit else paragraph[: limit - 1].rstrip() + "…"
