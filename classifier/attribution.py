"""Which words of a complaint raised a label's score: each feature's value shared out
among the words it came from, so a linear model's score splits exactly into per-word parts."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import itemgetter

import numpy as np
from numpy.typing import NDArray

from classifier.evidence import term_of
from classifier.features import FeatureRow, TextFeatures, joined

_INTP = np.dtype(np.intp).itemsize

# Per share of a feature's value: the word's index, the feature's position, the amount.
Attribution = tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]
_EMPTY: Attribution = (np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.float64))


def attribute(
    fast: TextFeatures,
    text: str,
    row: FeatureRow,
    chunks: Sequence[tuple[str, str]] | None = None,
) -> tuple[list[str], Attribution]:
    """The words of `text` and how each non-zero feature's value is shared among them.

    Word n-gram weights go to their words (a bigram's weight is split between its two
    words); a character n-gram's weight is split between the words that contain it, so
    misspelt words ("refnd") still get credit for what they resemble. Returns, per
    share, the word's index, the feature's position in `row` and the value it receives.
    """
    if chunks is None:
        chunks = [(c, term_of(c)) for c in text.lower().split()]
    # A repeated chunk ("the", "refund") adds no new (word, feature) pair: look each up once.
    # Terms are numbered in the order they first occur.
    term_of_chunk = dict(chunks)
    if "" in term_of_chunk.values():  # a chunk of punctuation alone has no term
        term_of_chunk = {chunk: term for chunk, term in term_of_chunk.items() if term}
    order = dict.fromkeys(term_of_chunk.values())
    terms = dict(zip(order, range(len(order)), strict=True))
    chunk_owners = list(map(terms.__getitem__, term_of_chunk.values()))
    looked_up = fast.chunks(term_of_chunk)
    char_columns = list(map(itemgetter(0), looked_up))
    word_pairs = [
        (column, owner)
        for (_, words), owner in zip(looked_up, chunk_owners, strict=True)
        for column in words
        if column >= 0
    ]
    parts = [_char_shares(fast, row, chunk_owners, char_columns)]
    parts.append(_word_shares(fast, row, word_pairs, terms))
    owner_ids, positions, fractions = (np.concatenate(p) for p in zip(*parts, strict=True))
    return list(terms), (owner_ids, positions, fractions * row.data[positions])


def _char_shares(
    fast: TextFeatures,
    row: FeatureRow,
    chunk_owners: list[int],
    char_columns: list[bytes],
) -> Attribution:
    """Each character n-gram's value split evenly among the words that contain it."""
    width = len(row.indices)
    if not char_columns or not width:
        return _EMPTY
    lengths = np.fromiter(map(len, char_columns), dtype=np.intp, count=len(char_columns))
    owners = np.array(chunk_owners, dtype=np.intp).repeat(lengths // _INTP)
    features = joined(char_columns)
    # Each (word, feature) once, in order of word then feature; the features are then
    # looked up in ascending runs, which the binary search does in about half the time.
    keys = owners * fast.n_features + features
    keys.sort()
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    owner_ids, features = np.divmod(keys[first], fast.n_features)
    positions = row.indices.searchsorted(features)
    # an index past the end reads the last column, which then differs from the feature
    present = row.indices.take(positions, mode="clip") == features
    if not present.all():
        owner_ids, positions = owner_ids[present], positions[present]
    owners_per_position = np.bincount(positions, minlength=width)
    return owner_ids, positions, 1.0 / owners_per_position[positions]


def _word_shares(
    fast: TextFeatures, row: FeatureRow, word_pairs: list[tuple[int, int]], terms: dict[str, int]
) -> Attribution:
    """Each word n-gram's value split among its words, and each word's share among the
    whitespace terms it occurs in ("refund/return" holds both words)."""
    words = int(row.indices.searchsorted(fast.offset))
    first, second = fast.word_parts(row.indices[:words])
    bigrams = (second >= 0).nonzero()[0]
    # a unigram's entry, then each bigram's second word's
    entry_words = np.concatenate([first, second[bigrams]]).tolist()
    positions = np.concatenate([np.arange(words, dtype=np.intp), bigrams])
    owner_of_word = dict(word_pairs)
    owners = list(map(owner_of_word.get, entry_words))
    if len(owner_of_word) == len(set(word_pairs)) and None not in owners:
        # Most texts: each word in one term only, so a unigram's value goes whole to its
        # term and a bigram's half to each word's term (1 / (size x 1), as below).
        fractions = np.full(len(entry_words), 0.5)
        fractions[:words][second < 0] = 1.0
        return np.array(owners, dtype=np.intp), positions, fractions
    # A word in several terms shares its part among them, in order of term; a word in none
    # (only with chunks cut from another text) is a term of its own.
    owners_of: dict[int, list[int]] = {}
    for word, owner in sorted(set(word_pairs)):
        owners_of.setdefault(word, []).append(owner)
    shares = (
        [
            owners_of.get(word) or [terms.setdefault(fast.word_terms[word], len(terms))]
            for word in entry_words
        ]
        if None in owners
        else list(map(owners_of.__getitem__, entry_words))
    )
    counts = np.fromiter(map(len, shares), dtype=np.intp, count=len(shares))
    sizes = np.full(len(entry_words), 2, dtype=np.intp)
    sizes[:words][second < 0] = 1
    return (
        np.fromiter(chain.from_iterable(shares), dtype=np.intp),
        positions.repeat(counts),
        (1.0 / (sizes * counts)).repeat(counts),
    )
