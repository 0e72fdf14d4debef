"""Word and character TF-IDF features, computed without scikit-learn's per-call overhead.

The fitted `TfidfVectorizer` pair inside a `FeatureUnion` stays the reference: it is what
fitting learns and what the artefact holds. `TextFeatures` reads their vocabularies and idf
once and computes the same matrix. Two things make it fast:

- a character n-gram depends only on the whitespace-separated chunk it lies in (``char_wb``),
  so each distinct chunk is cut into n-grams once and remembered; a batch's counts are then
  one sparse product, documents x chunks times chunks x n-grams;
- one text at a time skips the union's validation and stacking, which cost ten times the
  arithmetic.

`learn_vocabularies` is the fitting counterpart, for large training sets: the same
vocabulary and idf as ``TfidfVectorizer.fit`` (tested equal), from the same two ideas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import cast

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize

Matrix = NDArray[np.float64]
Indices = NDArray[np.intp]
# Distinct chunks remembered before the memory is cleared; a chunk costs about 300 bytes.
CHUNK_CACHE_SIZE = 200_000
_TF_TABLE = 256  # counts below this are looked up in a table of log(count) + 1
_INTP = np.dtype(np.intp).itemsize
# A chunk's character columns are kept as the bytes of an intp array: a text's ~80 chunks
# are then joined by one bytes join (~7 us) instead of np.concatenate (~17 us), and a bytes
# object is smaller than an array.
Chunk = tuple[bytes, tuple[int, ...]]


def columns(packed: bytes) -> Indices:
    """The intp array whose bytes `packed` holds (read-only: it shares them)."""
    return np.frombuffer(packed, dtype=np.intp)


def joined(packed: Sequence[bytes]) -> Indices:
    """The intp arrays whose bytes `packed` holds, one after another."""
    return np.frombuffer(b"".join(packed), dtype=np.intp)


@dataclass(frozen=True)
class FeatureRow:
    """One text's non-zero features: column indices (sorted) and their TF-IDF values."""

    indices: Indices
    data: Matrix


def char_wb_ngrams(chunk: str, low: int, high: int) -> list[str]:
    """The ``char_wb`` n-grams of one whitespace-free chunk, as scikit-learn cuts them."""
    padded = f" {chunk} "
    grams = []
    for n in range(low, high + 1):
        if len(padded) <= n:  # a short word counts once, whole
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def word_ngrams(tokens: Sequence[str], low: int, high: int) -> list[str]:
    """Word n-grams in scikit-learn's order: all of length `low`, then `low` + 1, and so on."""
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def check_vectorizer(vectorizer: TfidfVectorizer, analyzer: str) -> None:
    """Refuse settings this module does not reproduce, rather than compute something else."""
    supported = (
        vectorizer.analyzer == analyzer
        and vectorizer.lowercase
        and vectorizer.preprocessor is None
        and vectorizer.tokenizer is None
        and vectorizer.strip_accents is None
        and vectorizer.stop_words is None
        and vectorizer.norm == "l2"
        and vectorizer.use_idf
        and vectorizer.input == "content"
        # Every word of an in-vocabulary bigram is then an in-vocabulary unigram.
        and vectorizer.max_df == 1.0
        and vectorizer.max_features is None
        and (analyzer != "word" or vectorizer.ngram_range in ((1, 1), (1, 2)))
    )
    if not supported:
        raise ValueError(f"TextFeatures cannot reproduce this {analyzer} vectorizer's settings")


def tfidf(counts: csr_matrix, idf: Matrix, sublinear: bool) -> csr_matrix:
    """TfidfTransformer.transform's arithmetic, in its order, on a count matrix."""
    tfidf = csr_matrix(counts, dtype=np.float64)
    tfidf.sort_indices()
    if sublinear:
        np.log(tfidf.data, tfidf.data)
        tfidf.data += 1.0
    tfidf.data *= idf[tfidf.indices]
    return normalize(tfidf, norm="l2", copy=False)


def _distinct_counts(ordered: Indices) -> tuple[Indices, Indices]:
    """The distinct values of a sorted, non-empty array and how often each occurs: what
    `np.unique` returns with counts, in a third of its time on a few thousand values."""
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = first.nonzero()[0]  # the methods: NumPy's function wrappers cost as much again
    ends = np.empty(len(starts), dtype=np.intp)
    ends[:-1] = starts[1:]
    ends[-1] = len(ordered)
    return ordered[starts], ends - starts


def _row_tfidf(cols: Indices, idf: Matrix, sublinear: bool) -> tuple[Indices, Matrix]:
    indices, counts = np.unique(cols, return_counts=True)
    data = counts.astype(np.float64)
    if sublinear:
        data = np.log(data) + 1.0
    data *= idf[indices]
    norm = np.sqrt(data @ data)
    return indices, data / norm if norm else data


class TextFeatures:
    """Applies a fitted word + ``char_wb`` TF-IDF `FeatureUnion`; the same values, faster."""

    def __init__(self, union: FeatureUnion) -> None:
        (_, word), (_, char) = union.transformer_list
        check_vectorizer(word, "word")
        check_vectorizer(char, "char_wb")
        self.word_vocabulary: dict[str, int] = word.vocabulary_
        self.char_vocabulary: dict[str, int] = char.vocabulary_
        self.word_range: tuple[int, int] = word.ngram_range
        self.char_range: tuple[int, int] = char.ngram_range
        self._word_idf = np.asarray(word.idf_, dtype=np.float64)
        self._char_idf = np.asarray(char.idf_, dtype=np.float64)
        self._word_sublinear = bool(word.sublinear_tf)
        self._char_sublinear = bool(char.sublinear_tf)
        self._token = re.compile(word.token_pattern)
        self._bigram_keys, self._bigram_columns = _bigram_table(self.word_vocabulary)
        self.offset = len(self.word_vocabulary)
        self.word_terms = [""] * self.offset  # column -> term, for explanations
        for term, column in self.word_vocabulary.items():
            self.word_terms[column] = term
        # column -> its first and second word's unigram columns (-1: a unigram has none)
        self._first = np.arange(self.offset, dtype=np.intp)
        self._second = np.full(self.offset, -1, dtype=np.intp)
        self._first[self._bigram_columns] = self._bigram_keys // max(self.offset, 1)
        self._second[self._bigram_columns] = self._bigram_keys % max(self.offset, 1)
        self.n_features = self.offset + len(self.char_vocabulary)
        self._chunks: dict[str, Chunk] = {}
        # For one text, whose hundred-odd bigram lookups cost less as dict lookups in Python
        # than as the dozen NumPy calls of a vectorised search. Keyed by first word's column x
        # (width + 1) + second's: a word outside the vocabulary (-1) then makes no valid key.
        width = max(self.offset, 1)
        self._bigram_width = width + 1
        first, second = np.divmod(self._bigram_keys, width)
        keys = (first * self._bigram_width + second).tolist()
        self._bigrams: dict[int, int] = dict(zip(keys, self._bigram_columns.tolist(), strict=True))
        self._idf = np.concatenate([self._word_idf, self._char_idf])  # by feature column
        # log(count) + 1 for the counts of one text, looked up rather than computed
        self._sublinear_tf = np.zeros(_TF_TABLE, dtype=np.float64)  # [0]: no count is 0
        self._sublinear_tf[1:] = np.log(np.arange(1, _TF_TABLE, dtype=np.float64)) + 1.0

    # -- pieces ----------------------------------------------------------------------------
    def chunk(self, chunk: str) -> Chunk:
        """For one lowercased whitespace-free chunk: the feature columns of its character
        n-grams (repeats kept; they follow the word columns, so `offset` is added to their
        character-vocabulary columns) as the bytes of an intp array, and the word-vocabulary
        columns of its words, in order (-1 for a word outside the vocabulary)."""
        cached = self._chunks.get(chunk)
        if cached is None:
            if len(self._chunks) >= CHUNK_CACHE_SIZE:
                self._chunks = {}  # a fresh dict: readers holding the old one stay correct
            vocabulary = self.char_vocabulary
            found = [vocabulary.get(g) for g in char_wb_ngrams(chunk, *self.char_range)]
            get = self.word_vocabulary.get
            offset = self.offset
            cached = (
                np.array([c + offset for c in found if c is not None], dtype=np.intp).tobytes(),
                tuple(get(w, -1) for w in self._token.findall(chunk)),
            )
            self._chunks[chunk] = cached
        return cached

    def chunk_ngrams(self, chunk: str) -> Indices:
        """Character-vocabulary columns of the n-grams in one lowercased chunk, repeats kept."""
        return columns(self.chunk(chunk)[0]) - self.offset

    def _word_columns(self, token_lists: Sequence[list[str]]) -> tuple[Indices, Indices]:
        """(row, column) of every in-vocabulary unigram and bigram of tokenised texts."""
        lengths = np.fromiter(map(len, token_lists), dtype=np.intp, count=len(token_lists))
        rows = np.repeat(np.arange(len(token_lists), dtype=np.intp), lengths)
        get = self.word_vocabulary.get
        ids = np.array([get(t, -1) for tokens in token_lists for t in tokens], dtype=np.int64)
        return self._ngram_columns(ids, rows)

    def _ngram_columns(self, ids: NDArray[np.int64], rows: Indices) -> tuple[Indices, Indices]:
        """(row, column) of the unigrams and bigrams of a sequence of unigram columns
        (-1 for a word outside the vocabulary). Tokens become unigram columns by one lookup
        each; a bigram is then the pair of its words' columns, found with one vectorised
        search rather than by joining and hashing a string per pair."""
        known = ids >= 0
        pair = known[:-1] & known[1:] & (rows[:-1] == rows[1:])
        keys = ids[:-1][pair] * self.offset + ids[1:][pair]
        found = np.searchsorted(self._bigram_keys, keys)
        found[found == len(self._bigram_keys)] = 0
        hit = self._bigram_keys[found] == keys if len(self._bigram_keys) else found < 0
        return (
            np.concatenate([rows[known], rows[:-1][pair][hit]]),
            np.concatenate([ids[known], self._bigram_columns[found[hit]]]).astype(np.intp),
        )

    def _tokens(self, lowered: str) -> list[str]:
        tokens: list[str] = self._token.findall(lowered)
        return tokens

    def word_parts(self, columns: Indices) -> tuple[Indices, Indices]:
        """The unigram columns of word-feature `columns`' first and second words (-1: none)."""
        return self._first[columns], self._second[columns]

    # -- one text --------------------------------------------------------------------------
    def chunks(self, chunks: Iterable[str]) -> list[Chunk]:
        """`chunk` for each of `chunks`: the cached ones by one dict lookup each."""
        chunks = list(chunks)
        found = list(map(self._chunks.get, chunks))
        if None in found:
            return [cached or self.chunk(c) for c, cached in zip(chunks, found, strict=True)]
        return cast(list[Chunk], found)

    def row(self, text: str, lowered_chunks: Sequence[str] | None = None) -> FeatureRow:
        """The feature row of one text: equal to the union's ``transform([text])``.
        `lowered_chunks`: the whitespace chunks of ``text.lower()``, when already cut."""
        # Words never span whitespace, so the text's words are its chunks' words in order.
        if lowered_chunks is None:
            lowered_chunks = text.lower().split()
        chunks = self.chunks(lowered_chunks)
        if self._word_sublinear != self._char_sublinear:
            return self._row_by_block(chunks)
        ids = list(chain.from_iterable(map(itemgetter(1), chunks)))
        # Word and character columns are counted together: one sort and one count serve both.
        known = [i for i in ids if i >= 0]
        bigram, width = self._bigrams.get, self._bigram_width
        pairs = [bigram(a * width + b) for a, b in zip(ids, ids[1:], strict=False)]
        known.extend([c for c in pairs if c is not None])
        found = joined([np.array(known, dtype=np.intp).tobytes(), *map(itemgetter(0), chunks)])
        if not len(found):
            return FeatureRow(np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64))
        indices, counts = _distinct_counts(np.sort(found))
        if not self._word_sublinear:
            data = counts.astype(np.float64)
        elif counts.max() < len(self._sublinear_tf):
            data = self._sublinear_tf[counts]
        else:
            data = np.log(counts.astype(np.float64)) + 1.0
        data *= self._idf[indices]
        # Each block is normalised on its own, as the union's two vectorizers do.
        words = int(indices.searchsorted(self.offset))
        for block in (data[:words], data[words:]):
            norm = math.sqrt(block @ block)
            if norm:
                block /= norm
        return FeatureRow(indices, data)

    def _row_by_block(self, chunks: list[Chunk]) -> FeatureRow:
        """`row` for vectorizers that scale their counts differently."""
        ids = np.fromiter(chain.from_iterable(c[1] for c in chunks), dtype=np.int64)
        word_cols = self._ngram_columns(ids, np.zeros(len(ids), dtype=np.intp))[1]
        char_cols = joined([c[0] for c in chunks]) - self.offset
        word_idx, word_data = _row_tfidf(word_cols, self._word_idf, self._word_sublinear)
        char_idx, char_data = _row_tfidf(char_cols, self._char_idf, self._char_sublinear)
        return FeatureRow(
            np.concatenate([word_idx, char_idx + self.offset]),
            np.concatenate([word_data, char_data]),
        )

    # -- many texts ------------------------------------------------------------------------
    def transform(self, texts: Iterable[str]) -> csr_matrix:
        """The feature matrix of many texts: equal to the union's ``transform(texts)``."""
        lowered = [t.lower() for t in texts]
        word_counts = self._word_counts(lowered)
        char_counts = self._char_counts(lowered)
        return csr_matrix(
            hstack(
                [
                    tfidf(word_counts, self._word_idf, self._word_sublinear),
                    tfidf(char_counts, self._char_idf, self._char_sublinear),
                ],
                format="csr",
            )
        )

    def _word_counts(self, lowered: list[str]) -> csr_matrix:
        rows, cols = self._word_columns([self._tokens(t) for t in lowered])
        counts = csr_matrix(
            (np.ones(len(cols), dtype=np.float64), (rows, cols)),
            shape=(len(lowered), len(self.word_vocabulary)),
        )
        counts.sum_duplicates()
        return counts

    def _char_counts(self, lowered: list[str]) -> csr_matrix:
        # documents x distinct chunks, times distinct chunks x n-grams: each distinct chunk
        # is looked at once per batch, however often it occurs.
        documents, local = chunk_counts(lowered)
        grams = [self.chunk(c)[0] for c in local]
        lengths = np.fromiter(map(len, grams), dtype=np.intp, count=len(grams)) // _INTP
        ngrams = csr_matrix(
            (
                np.ones(int(lengths.sum()), dtype=np.float64),
                joined(grams) - self.offset,
                np.concatenate([[0], np.cumsum(lengths)]),
            ),
            shape=(len(local), len(self.char_vocabulary)),
        )
        ngrams.sum_duplicates()
        return csr_matrix(documents @ ngrams)


def chunk_counts(lowered: list[str]) -> tuple[csr_matrix, dict[str, int]]:
    """How often each distinct whitespace chunk occurs in each text, and the chunks' columns."""
    chunks: dict[str, int] = {}
    indptr = [0]
    cols: list[int] = []
    for text in lowered:
        cols.extend(chunks.setdefault(c, len(chunks)) for c in text.split())
        indptr.append(len(cols))
    return _counts(indptr, cols, len(chunks)), chunks


def _bigram_table(vocabulary: dict[str, int]) -> tuple[NDArray[np.int64], Indices]:
    """Sorted keys (first word's column x width + second's) and the bigrams' own columns."""
    width = len(vocabulary)
    keys, columns = [], []
    for term, column in vocabulary.items():
        first, space, second = term.partition(" ")
        if space:
            keys.append(vocabulary[first] * width + vocabulary[second])
            columns.append(column)
    order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")
    return np.array(keys, dtype=np.int64)[order], np.array(columns, dtype=np.intp)[order]


def _counts(indptr: list[int], cols: list[int], width: int) -> csr_matrix:
    """A count matrix from per-row column lists (repeats are summed)."""
    matrix = csr_matrix(
        (np.ones(len(cols), dtype=np.float64), np.array(cols, dtype=np.intp), indptr),
        shape=(len(indptr) - 1, width),
    )
    matrix.sum_duplicates()
    return matrix
