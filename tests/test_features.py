"""The fast feature code computes exactly what scikit-learn's fitted vectorizers compute."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from classifier import features as features_module
from classifier.data import Record
from classifier.features import TextFeatures, char_wb_ngrams, word_ngrams
from classifier.vocabulary import fit_transform

AWKWARD = [
    "",
    "a",
    "  x  ",
    "Ünïcödé ÇA  VA\u00a0bien\u2003ok",
    "refnd!!! NOW\n\n\tplease",
    "I I I I I I",
    "tab\tseparated\u2028line",
    "x\x00y z",
    "REFUND refund Refund rEfUnD",
]


def _union(word_range: tuple[int, int] = (1, 2)) -> FeatureUnion:
    word = TfidfVectorizer(ngram_range=word_range, sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)
    return FeatureUnion([("word", word), ("char", char)])


@pytest.fixture(scope="module")
def texts(train_records: list[Record]) -> list[str]:
    return [r.text for r in train_records[:400]] + AWKWARD


@pytest.fixture(scope="module")
def fitted(texts: list[str]) -> FeatureUnion:
    union = _union()
    union.fit(texts)
    return union


def test_ngrams_are_cut_as_scikit_learn_cuts_them() -> None:
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).build_analyzer()
    for chunk in ["a", "ab", "abc", "refund", "£89.99"]:
        assert char_wb_ngrams(chunk, 3, 5) == analyzer(chunk)
    words = TfidfVectorizer(ngram_range=(1, 2)).build_analyzer()
    tokens = ["was", "charged", "twice"]  # one-letter words are not tokens
    assert word_ngrams(tokens, 1, 2) == words("I was charged twice")


def test_transform_equals_the_unions_transform(fitted: FeatureUnion, texts: list[str]) -> None:
    unseen = [*AWKWARD, "completely novel wording zzzqqq", "refund " * 50]
    for batch in (texts, unseen, unseen[:1]):
        expected = fitted.transform(batch)
        got = TextFeatures(fitted).transform(batch)
        assert got.shape == expected.shape
        assert abs(got - expected).max() == 0.0


def test_one_row_equals_the_unions_row(fitted: FeatureUnion, texts: list[str]) -> None:
    fast = TextFeatures(fitted)
    expected = fitted.transform(texts)
    for i, text in enumerate(texts):
        row = fast.row(text)
        np.testing.assert_array_equal(row.indices, expected[i].indices)
        np.testing.assert_allclose(row.data, expected[i].data, rtol=1e-14, atol=0)


def test_the_chunk_memory_is_bounded(fitted: FeatureUnion, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features_module, "CHUNK_CACHE_SIZE", 5)
    fast = TextFeatures(fitted)
    text = "one two three four five six seven eight nine ten"
    before = fitted.transform([text])
    for _ in range(3):
        assert abs(fast.transform([text]) - before).max() == 0.0
        assert len(fast._chunks) <= 5


def test_unsupported_vectorizer_settings_are_refused(texts: list[str]) -> None:
    union = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 3)).fit(texts)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(texts)),
        ]
    )
    with pytest.raises(ValueError, match="cannot reproduce"):
        TextFeatures(union)


@pytest.mark.parametrize("word_range", [(1, 1), (1, 2)])
def test_fitting_learns_scikit_learns_vocabulary_and_idf(
    texts: list[str], word_range: tuple[int, int]
) -> None:
    reference, fast = _union(word_range), _union(word_range)
    expected = reference.fit_transform(texts)
    got = fit_transform(fast, texts)
    for (name, ours), (_, theirs) in zip(
        fast.transformer_list, reference.transformer_list, strict=True
    ):
        assert ours.vocabulary_ == theirs.vocabulary_, name
        np.testing.assert_array_equal(ours.idf_, theirs.idf_)
    # scikit-learn leaves the training matrix's indices unsorted, so the l2 norm may sum in
    # another order: equal to the last bit or two.
    assert abs(got - expected).max() < 1e-15
    new = ["a refund for the parcel that never came", *AWKWARD]
    assert abs(fast.transform(new) - reference.transform(new)).max() == 0.0
    assert list(fast.get_feature_names_out()) == list(reference.get_feature_names_out())


def test_fitting_nothing_is_refused_as_scikit_learn_refuses_it() -> None:
    with pytest.raises(ValueError, match="empty vocabulary"):
        fit_transform(_union(), ["", "!!"])
