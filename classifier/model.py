"""TriageModel: TF-IDF features, one-vs-rest logistic regression for departments with
per-label thresholds tuned by cross-validation, and a separate escalation classifier.

Follows scikit-learn's estimator conventions (parameters stored in ``__init__``, learned
attributes end in ``_``, ``fit`` returns ``self``), so it composes with ``clone`` and
grid search. It knows nothing of files, HTTP or storage.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion
from sklearn.utils.validation import check_is_fitted

from classifier.catalogue import DEPARTMENT_IDS
from classifier.evidence import WS_TOKEN, term_of

Matrix = NDArray[np.float64]
_THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def _f1(truth: NDArray[np.int_], predicted: NDArray[np.bool_]) -> float:
    tp = float(np.sum(predicted & (truth == 1)))
    denominator = float(np.sum(predicted) + np.sum(truth == 1))
    return 2 * tp / denominator if denominator else 0.0


def best_f1_threshold(truth: NDArray[np.int_], proba: Matrix) -> float:
    """The threshold maximising F1; the middle of the best plateau, so it is not on an edge."""
    scores = np.array([_f1(truth, proba >= t) for t in _THRESHOLD_GRID])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(_THRESHOLD_GRID[best[len(best) // 2]])


def recall_threshold(truth: NDArray[np.int_], proba: Matrix, target: float) -> float:
    """The highest threshold whose recall reaches `target`, which keeps precision highest."""
    positives = truth == 1
    if not positives.any():
        return 0.5
    for threshold in _THRESHOLD_GRID[::-1]:
        if np.mean(proba[positives] >= threshold) >= target:
            return float(threshold)
    return float(_THRESHOLD_GRID[0])


@dataclass(frozen=True)
class FeatureRow:
    """One text's non-zero features: column indices and their TF-IDF values."""

    indices: NDArray[np.int_]
    data: Matrix


class TriageModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Predicts departments (multi-label) and escalation from complaint text.

    ``fit(X, y)`` takes texts and an indicator matrix of shape (n, len(labels) + 1): one
    column per department in ``labels`` order, then the escalation column.
    """

    def __init__(
        self,
        labels: Sequence[str] = DEPARTMENT_IDS,
        C: float = 10.0,
        escalation_C: float = 4.0,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (3, 5),
        cv: int = 5,
        escalation_recall: float = 0.9,
        random_state: int = 42,
    ) -> None:
        self.labels = labels
        self.C = C
        self.escalation_C = escalation_C
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.cv = cv
        self.escalation_recall = escalation_recall
        self.random_state = random_state

    # -- building blocks -------------------------------------------------------------------
    def _features(self) -> FeatureUnion:
        word = TfidfVectorizer(
            analyzer="word", ngram_range=self.word_ngram_range, sublinear_tf=True, min_df=1
        )
        char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.char_ngram_range, sublinear_tf=True, min_df=2
        )
        return FeatureUnion([("word", word), ("char", char)])

    def _classifier(self, C: float) -> LogisticRegression:
        return LogisticRegression(
            C=C, class_weight="balanced", solver="liblinear", random_state=self.random_state
        )

    def _fit_parts(
        self, texts: Sequence[str], y: NDArray[np.int_]
    ) -> tuple[FeatureUnion, OneVsRestClassifier, LogisticRegression]:
        features = self._features()
        X = features.fit_transform(texts)
        with warnings.catch_warnings():
            # A rare label can be absent from a CV training fold; sklearn then predicts a
            # constant for it, which is what we want, and warns, which we silence.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            departments = OneVsRestClassifier(self._classifier(self.C)).fit(X, y[:, :-1])
            escalation = self._classifier(self.escalation_C).fit(X, y[:, -1])
        return features, departments, escalation

    @staticmethod
    def _proba(
        parts: tuple[FeatureUnion, OneVsRestClassifier, LogisticRegression],
        texts: Sequence[str],
    ) -> Matrix:
        features, departments, escalation = parts
        X = features.transform(texts)
        dept = np.asarray(departments.predict_proba(X), dtype=np.float64)
        esc = np.asarray(escalation.predict_proba(X)[:, 1], dtype=np.float64)
        return np.column_stack([dept, esc])

    # -- estimator API ---------------------------------------------------------------------
    def fit(
        self,
        X: Sequence[str],
        y: NDArray[np.int_],
        progress: Callable[[str], None] | None = None,
    ) -> TriageModel:
        """Fit on texts `X` and indicator matrix `y`; tune thresholds by cross-validation.

        `progress`, when given, is called with a short message after each step.
        """
        texts = list(X)
        y = np.asarray(y, dtype=np.int_)
        if y.ndim != 2 or y.shape != (len(texts), len(self.labels) + 1):
            raise ValueError(
                f"y must have shape (n_samples, {len(self.labels) + 1}), got {y.shape}"
            )
        step = progress or (lambda _message: None)
        oof = np.zeros(y.shape, dtype=np.float64)
        folds = KFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        for number, (train, valid) in enumerate(folds.split(texts), start=1):
            parts = self._fit_parts([texts[i] for i in train], y[train])
            oof[valid] = self._proba(parts, [texts[i] for i in valid])
            step(f"cross-validation fold {number}/{self.cv}")
        self.oof_proba_ = oof
        self.thresholds_ = np.array(
            [best_f1_threshold(y[:, j], oof[:, j]) for j in range(len(self.labels))]
        )
        self.escalation_threshold_ = recall_threshold(y[:, -1], oof[:, -1], self.escalation_recall)
        self.features_, self.departments_, self.escalation_ = self._fit_parts(texts, y)
        # Kept once here: rebuilding ~10^5 names per explanation dominated triage time.
        self.feature_names_out_ = np.asarray(self.features_.get_feature_names_out())
        self.classes_ = np.array([*self.labels, "escalate"])
        step("final fit")
        return self

    def predict_proba(self, X: Sequence[str]) -> Matrix:
        """Probabilities, shape (n, len(labels) + 1); the last column is escalation."""
        check_is_fitted(self, "features_")
        return self._proba((self.features_, self.departments_, self.escalation_), list(X))

    @property
    def all_thresholds_(self) -> Matrix:
        """Department thresholds followed by the escalation threshold."""
        return np.append(self.thresholds_, self.escalation_threshold_)

    def predict(self, X: Sequence[str]) -> NDArray[np.int_]:
        """0/1 decisions with each column's own threshold, shape (n, len(labels) + 1)."""
        return (self.predict_proba(X) >= self.all_thresholds_).astype(np.int_)

    # -- the single-complaint fast path ----------------------------------------------------
    def vectorize_one(self, text: str) -> FeatureRow:
        """The feature row of one text, from the two vectorizers called directly: the same
        values as the FeatureUnion gives, without its per-call overhead."""
        check_is_fitted(self, "features_")
        (_, word), (_, char) = self.features_.transformer_list
        word_row = word.transform([text])
        char_row = char.transform([text])
        offset = len(word.vocabulary_)
        return FeatureRow(
            np.concatenate([word_row.indices, char_row.indices + offset]),
            np.concatenate([word_row.data, char_row.data]),
        )

    def _scoring(self) -> tuple[Matrix, Matrix]:
        """Coefficients of every column stacked once (not pickled: derived from the fit)."""
        cached = self.__dict__.get("_scoring_cache")
        if cached is None:
            weights = np.vstack([self._coefficients(c) for c in range(len(self.labels) + 1)])
            estimators = [*self.departments_.estimators_, self.escalation_]
            bias = np.array(
                [float(np.ravel(getattr(e, "intercept_", [0.0]))[0]) for e in estimators]
            )
            cached = self.__dict__["_scoring_cache"] = (weights, bias)
        return cached

    def predict_proba_row(self, row: FeatureRow) -> Matrix:
        """Probabilities for one vectorized text, equal to `predict_proba` on it."""
        weights, bias = self._scoring()
        scores = weights[:, row.indices] @ row.data + bias
        return np.asarray(1.0 / (1.0 + np.exp(-scores)), dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop("_scoring_cache", None)
        return state

    # -- explanations ----------------------------------------------------------------------
    def _coefficients(self, column: int) -> Matrix:
        if column == len(self.labels):
            estimator: Any = self.escalation_
        else:
            estimator = self.departments_.estimators_[column]
        coef = getattr(estimator, "coef_", None)
        if coef is None:  # a label that never occurred in training: no evidence possible
            return np.zeros(len(self.feature_names_out_), dtype=np.float64)
        return np.asarray(coef, dtype=np.float64).ravel()

    def _attribution(self, text: str, row: FeatureRow) -> tuple[list[str], csr_matrix]:
        """The words of `text` and, per non-zero feature, its value shared among them.

        Word n-gram weights go to their words (a bigram's weight is split between its two
        words); a character n-gram's weight is split between the words that contain it, so
        misspelt words ("refnd") still get credit for what they resemble.
        """
        word_to_ws: dict[str, set[str]] = defaultdict(set)
        char_owners: dict[str, set[str]] = defaultdict(set)
        lo, hi = self.char_ngram_range
        for match in WS_TOKEN.finditer(text.lower()):
            chunk = match.group()
            term = term_of(chunk)
            if not term:
                continue
            padded = f" {chunk} "
            for n in range(lo, hi + 1):
                for start in range(len(padded) - n + 1):
                    char_owners[padded[start : start + n]].add(term)
            for word in re.findall(r"\w\w+", chunk):
                word_to_ws[word].add(term)
        terms: dict[str, int] = {}
        rows, cols, values = [], [], []
        names = self.feature_names_out_
        for position, (index, value) in enumerate(zip(row.indices, row.data, strict=True)):
            kind, _, feature = str(names[index]).partition("__")
            if kind == "word":
                words = feature.split(" ")
                shares = [(o, 1 / (len(words) * len(word_to_ws.get(w) or {w})))
                          for w in words for o in (word_to_ws.get(w) or {w})]  # fmt: skip
            else:
                owners = char_owners.get(feature, set())
                shares = [(o, 1 / len(owners)) for o in owners]
            for owner, fraction in shares:
                rows.append(position)
                cols.append(terms.setdefault(owner, len(terms)))
                values.append(float(value) * fraction)
        matrix = csr_matrix((values, (rows, cols)), shape=(len(row.indices), len(terms)))
        return list(terms), matrix

    def term_contributions_many(
        self, text: str, columns: Sequence[int], row: FeatureRow | None = None
    ) -> list[dict[str, float]]:
        """How much each word of `text` raised the score of each of `columns` (log-odds)."""
        row = row if row is not None else self.vectorize_one(text)
        terms, shares = self._attribution(text, row)
        weights = self._scoring()[0][list(columns)][:, row.indices]
        scores = np.asarray((shares.T @ weights.T).T)
        return [dict(zip(terms, map(float, column), strict=True)) for column in scores]

    def term_contributions(
        self, text: str, column: int, row: FeatureRow | None = None
    ) -> dict[str, float]:
        """How much each word of `text` raised the score of `column` (log-odds units)."""
        return self.term_contributions_many(text, [column], row)[0]
