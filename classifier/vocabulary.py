"""Fitting the word + ``char_wb`` TF-IDF union fast enough for 100,000 complaints.

``FeatureUnion.fit_transform`` cuts every document into n-grams in Python, about 2,000
documents a second here. This does the same fit with the ideas `classifier.features` uses
to apply it: character n-grams are cut once per distinct whitespace chunk and combined by a
sparse product, and bigrams are pairs of unigram ids rather than joined strings. The result
is the union itself, its vectorizers holding the vocabulary and idf that scikit-learn's own
fit learns (a test compares them), so everything downstream is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from numbers import Integral

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from classifier.features import char_wb_ngrams, check_vectorizer, chunk_counts, tfidf


def fit_transform(union: FeatureUnion, texts: Sequence[str]) -> csr_matrix:
    """Fit the union's word and ``char_wb`` vectorizers on `texts`; their TF-IDF matrix."""
    (_, word), (_, char) = union.transformer_list
    check_vectorizer(word, "word")
    check_vectorizer(char, "char_wb")
    lowered = [t.lower() for t in texts]
    blocks = []
    for vectorizer, (counts, terms) in (
        (word, _word_counts(lowered, word)),
        (char, _char_counts(lowered, char)),
    ):
        counts = _learn(vectorizer, counts, terms)
        blocks.append(tfidf(counts, vectorizer.idf_, vectorizer.sublinear_tf))
    return csr_matrix(hstack(blocks, format="csr"))


def _matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> csr_matrix:
    counts = csr_matrix((np.ones(len(cols), dtype=np.float64), (rows, cols)), shape=shape)
    counts.sum_duplicates()
    return counts


def _word_counts(lowered: list[str], word: TfidfVectorizer) -> tuple[csr_matrix, list[str]]:
    """Counts of every unigram and (when asked) bigram, with the terms in column order."""
    pattern = re.compile(word.token_pattern)
    token_lists = [pattern.findall(t) for t in lowered]
    lengths = np.fromiter(map(len, token_lists), dtype=np.intp, count=len(token_lists))
    rows = np.repeat(np.arange(len(lowered), dtype=np.intp), lengths)
    unigrams: dict[str, int] = {}
    ids = np.array(
        [unigrams.setdefault(t, len(unigrams)) for tokens in token_lists for t in tokens],
        dtype=np.int64,
    )
    terms = list(unigrams)
    all_rows, all_cols = [rows], [ids]
    if word.ngram_range[1] == 2:
        width = len(terms)
        pair = rows[:-1] == rows[1:]
        keys = ids[:-1][pair] * width + ids[1:][pair]
        distinct, inverse = np.unique(keys, return_inverse=True)
        all_rows.append(rows[:-1][pair])
        all_cols.append(width + inverse.ravel())
        unigram_terms = terms[:]
        terms += [
            f"{unigram_terms[k // width]} {unigram_terms[k % width]}" for k in distinct.tolist()
        ]
    counts = _matrix(np.concatenate(all_rows), np.concatenate(all_cols), (len(lowered), len(terms)))
    return counts, terms


def _char_counts(lowered: list[str], char: TfidfVectorizer) -> tuple[csr_matrix, list[str]]:
    """Counts of every ``char_wb`` n-gram: documents x chunks times chunks x n-grams."""
    documents, chunks = chunk_counts(lowered)
    grams: dict[str, int] = {}
    gram_rows: list[int] = []
    gram_cols: list[int] = []
    low, high = char.ngram_range
    for row, chunk in enumerate(chunks):
        found = [grams.setdefault(g, len(grams)) for g in char_wb_ngrams(chunk, low, high)]
        gram_cols.extend(found)
        gram_rows.extend([row] * len(found))
    ngrams = _matrix(
        np.array(gram_rows, dtype=np.intp),
        np.array(gram_cols, dtype=np.intp),
        (len(chunks), len(grams)),
    )
    return csr_matrix(documents @ ngrams), list(grams)


def _learn(vectorizer: TfidfVectorizer, counts: csr_matrix, terms: list[str]) -> csr_matrix:
    """Prune by document frequency, sort the vocabulary, set idf: as CountVectorizer.fit and
    TfidfTransformer.fit do. Returns the counts in the vocabulary's column order."""
    if not terms:
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    n_docs = counts.shape[0]
    df = np.bincount(counts.indices, minlength=len(terms))
    min_df, max_df = vectorizer.min_df, vectorizer.max_df
    low = float(min_df if isinstance(min_df, Integral) else min_df * n_docs)
    high = float(max_df if isinstance(max_df, Integral) else max_df * n_docs)
    kept = np.flatnonzero((df >= low) & (df <= high))
    if len(kept) == 0:
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    order = sorted(kept.tolist(), key=terms.__getitem__)
    vectorizer.vocabulary_ = {terms[old]: new for new, old in enumerate(order)}
    vectorizer.fixed_vocabulary_ = False
    kept_df = df[order].astype(np.float64)
    # TfidfTransformer.fit's arithmetic, in its order, so idf is bit-for-bit the same.
    kept_df += float(vectorizer.smooth_idf)
    idf = np.full_like(kept_df, fill_value=n_docs + int(vectorizer.smooth_idf))
    idf /= kept_df
    np.log(idf, out=idf)
    idf += 1.0
    vectorizer._tfidf = TfidfTransformer(
        norm=vectorizer.norm,
        use_idf=vectorizer.use_idf,
        smooth_idf=vectorizer.smooth_idf,
        sublinear_tf=vectorizer.sublinear_tf,
    )
    vectorizer._tfidf.idf_ = idf
    vectorizer._tfidf.n_features_in_ = len(order)
    return csr_matrix(counts[:, order])
