"""Which language a complaint is written in, offline, from its function words.

The model is trained on English only; a complaint in another language must be flagged for
review rather than routed with false confidence. Function words ("the", "und", "les", ...)
are frequent, short and distinctive, so a few of them identify the common European languages
of a complaint reliably without any model or download.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

NAMES = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
    "nl": "Dutch", "pt": "Portuguese", "pl": "Polish", "sv": "Swedish",
}  # fmt: skip

# Words frequent in one language and rare in the others (shared ones like "a" left out).
_FUNCTION_WORDS = {
    "en": "the and is are was were have has this that with for not you your my our it of to "
          "from but they been would could please what when will",
    "fr": "le la les des est et une pour pas que qui dans avec sur mon ma mes votre vous nous "
          "je suis été ai très mais ce cette aux du au",
    "de": "der die das und ist nicht ich sie mit für auf ein eine einen mein meine ihr ihre "
          "wir haben wurde bitte noch schon auch aber dem den zu",
    "es": "el los las que es y en por para con una mi mis su sus pero muy está he ha fue "
          "del al se lo como desde",
    "it": "il lo gli che è e per con una mio mia sono non della delle nel ho ha stato molto "
          "ma questo questa anche",
    "nl": "de het een en is niet ik mijn met voor op van dat zijn heb heeft wij jullie "
          "maar ook nog geen",
    "pt": "o os as que é e em por para com uma meu minha não está foi muito mas do da dos "
          "das ao",
    "pl": "nie jest się że mój moja jak ale już czy przez proszę jestem został",
    "sv": "och är inte jag det att en ett med för på min mitt har var men också",
}  # fmt: skip
_WORDS = {lang: frozenset(words.split()) for lang, words in _FUNCTION_WORDS.items()}
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class LanguageGuess:
    code: str | None  # None when the text is too short to tell
    name: str | None
    hits: int


# Per lower-cased whitespace chunk, how many function words of each language it holds (None:
# none), remembered up to this many chunks: complaints repeat most of their words.
CHUNK_CACHE_SIZE = 100_000
_hits: dict[str, tuple[int, ...] | None] = {}
_UNSEEN = (-1,)  # a chunk not looked at yet


def detect_language(
    text: str, *, min_hits: int = 3, lowered_chunks: Sequence[str] | None = None
) -> LanguageGuess:
    """The language whose function words the text uses most; None when fewer than
    `min_hits` function words of any language occur. `lowered_chunks`: the whitespace
    chunks of ``text.lower()``, when already cut."""
    if lowered_chunks is None:
        lowered = text.lower()
        lowered_chunks = lowered.split() if len(lowered) == len(text) else None
    elif not text.isascii() and len(text.lower()) != len(text):
        lowered_chunks = None
    if lowered_chunks is not None:
        counts = _counts_by_chunk(lowered_chunks)
    else:  # lower() lengthens a few letters, such as İ: lower each word on its own
        frequency = Counter(t.lower() for t in _TOKEN.findall(text))
        counts = {
            lang: sum(frequency[w] for w in words & frequency.keys())
            for lang, words in _WORDS.items()
        }
    best = max(counts, key=lambda lang: (counts[lang], lang == "en"))
    if counts[best] < min_hits:
        return LanguageGuess(None, None, counts[best])
    return LanguageGuess(best, NAMES[best], counts[best])


def _counts_by_chunk(chunks: Sequence[str]) -> dict[str, int]:
    """Function words per language in the text's lower-cased chunks, from each distinct
    chunk's remembered count. The words of lower-cased text are the lower-cased words of
    the text when lower() keeps its length: lower-casing never makes a letter of a non-letter
    or the reverse, and only a capital sigma is lowered according to its neighbours (to σ
    or ς, neither in any list)."""
    hits = list(map(_hits.get, chunks, repeat(_UNSEEN)))
    if _UNSEEN in hits:
        hits = [_chunk_hits(c) if h is _UNSEEN else h for c, h in zip(chunks, hits, strict=True)]
    totals = [sum(column) for column in zip(*filter(None, hits), strict=True)]
    return dict(zip(_WORDS, totals or repeat(0), strict=False))


def _chunk_hits(chunk: str) -> tuple[int, ...] | None:
    words = _TOKEN.findall(chunk)
    counts = tuple(sum(w in known for w in words) for known in _WORDS.values())
    hits = counts if any(counts) else None
    if len(_hits) >= CHUNK_CACHE_SIZE:
        _hits.clear()
    _hits[chunk] = hits
    return hits
