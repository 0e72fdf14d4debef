"""TriageModel: TF-IDF features, one linear classifier per department plus one for
escalation, Platt-calibrated probabilities and per-label thresholds, both learned from
cross-validated scores on the training data only.

Follows scikit-learn's estimator conventions (parameters stored in ``__init__``, learned
attributes end in ``_``, ``fit`` returns ``self``), so it composes with ``clone`` and
grid search. It knows nothing of files, HTTP or storage.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import KFold
from sklearn.pipeline import FeatureUnion
from sklearn.utils.validation import check_is_fitted

from classifier.attribution import attribute
from classifier.catalogue import DEPARTMENT_IDS
from classifier.features import FeatureRow, TextFeatures
from classifier.packing import packed, unpack
from classifier.vocabulary import fit_transform

Matrix = NDArray[np.float64]
# Bumped whenever a fitted TriageModel's attributes change shape or meaning; the registry
# refuses artefacts of another format instead of failing on the first request.
MODEL_FORMAT = 3  # 3: vocabularies pickled packed (see classifier/packing.py)
_THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)

__all__ = ["MODEL_FORMAT", "FeatureRow", "TriageModel", "best_f1_threshold", "recall_threshold"]


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


def platt(scores: Matrix, truth: NDArray[np.int_]) -> tuple[float, float]:
    """Platt scaling: (a, b) so that sigmoid(a * score + b) is calibrated on these scores.

    The identity when a label has one class only, or when the fit would reverse the order
    of scores (a <= 0): calibration must never change which complaint ranks higher.
    """
    if len(np.unique(truth)) < 2:
        return 1.0, 0.0
    fitted = LogisticRegression(C=1e4).fit(scores.reshape(-1, 1), truth)
    a, b = float(fitted.coef_[0, 0]), float(fitted.intercept_[0])
    return (a, b) if a > 0 else (1.0, 0.0)


def sigmoid(values: Matrix) -> Matrix:
    return np.asarray(1.0 / (1.0 + np.exp(-values)), dtype=np.float64)


class _Constant(BaseEstimator):  # type: ignore[misc]
    """Stands in for a classifier when a column has one class only: a constant score."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def fit(self, X: csr_matrix, y: NDArray[np.int_]) -> _Constant:
        self.coef_ = np.zeros((1, X.shape[1]), dtype=np.float64)
        # A large log-odds of the right sign; calibration leaves it in place.
        self.intercept_ = np.array([10.0 if self.value else -10.0])
        return self

    def decision_function(self, X: csr_matrix) -> Matrix:
        return np.full(X.shape[0], float(self.intercept_[0]))


# LogisticRegression, SGDClassifier or _Constant; scikit-learn ships no type information.
Linear = Any


class TriageModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Predicts departments (multi-label) and escalation from complaint text.

    ``fit(X, y)`` takes texts and an indicator matrix of shape (n, len(labels) + 1): one
    column per department in ``labels`` order, then the escalation column.

    ``solver="auto"`` fits logistic regression with liblinear up to `large_data` records
    and, above that, logistic loss by stochastic gradient descent (`SGDClassifier`), whose
    cost grows linearly: liblinear took about 20 s per label on 100,000 complaints here.
    Cross-validation for calibration and thresholds then runs on a random sample of
    `large_data` records; the final fit always uses every record.
    """

    def __init__(
        self,
        labels: Sequence[str] = DEPARTMENT_IDS,
        C: float = 10.0,
        escalation_C: float = 4.0,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (3, 5),
        word_min_df: int = 2,
        cv: int = 5,
        escalation_recall: float = 0.9,
        solver: str = "auto",
        large_data: int = 20_000,
        sgd_alpha: float = 1e-5,
        sgd_epochs: int = 5,
        n_jobs: int = 2,
        random_state: int = 42,
    ) -> None:
        self.labels = labels
        self.C = C
        self.escalation_C = escalation_C
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.word_min_df = word_min_df
        self.cv = cv
        self.escalation_recall = escalation_recall
        self.solver = solver
        self.large_data = large_data
        self.sgd_alpha = sgd_alpha
        self.sgd_epochs = sgd_epochs
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- building blocks -------------------------------------------------------------------
    def _features(self) -> FeatureUnion:
        word = TfidfVectorizer(
            analyzer="word",
            ngram_range=self.word_ngram_range,
            sublinear_tf=True,
            min_df=self.word_min_df,
        )
        char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.char_ngram_range, sublinear_tf=True, min_df=2
        )
        return FeatureUnion([("word", word), ("char", char)])

    def _solver_for(self, n_samples: int) -> str:
        if self.solver not in ("auto", "liblinear", "sgd"):
            raise ValueError(f"solver must be auto, liblinear or sgd, not {self.solver!r}")
        if self.solver != "auto":
            return self.solver
        return "sgd" if n_samples > self.large_data else "liblinear"

    def _classifier(self, column: int, solver: str) -> Linear:
        C = self.escalation_C if column == len(self.labels) else self.C
        if solver == "sgd":
            return SGDClassifier(
                loss="log_loss", alpha=self.sgd_alpha * 10.0 / C, class_weight="balanced",
                max_iter=self.sgd_epochs, tol=None, random_state=self.random_state,
            )  # fmt: skip
        return LogisticRegression(
            C=C, class_weight="balanced", solver="liblinear", random_state=self.random_state
        )

    def _fit_columns(self, X: csr_matrix, y: NDArray[np.int_], solver: str) -> list[Linear]:
        """One fitted classifier per column of `y`; both liblinear and SGD release the GIL,
        so threads fit columns side by side."""

        def fit_one(column: int) -> Linear:
            estimator = self._classifier(column, solver)
            truth = y[:, column]
            if len(np.unique(truth)) < 2:  # a label absent from a fold: predict its constant
                estimator = _Constant(float(truth[0]) if len(truth) else 0.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return estimator.fit(X, truth)

        with ThreadPoolExecutor(max_workers=max(1, self.n_jobs)) as pool:
            return list(pool.map(fit_one, range(y.shape[1])))

    @staticmethod
    def _scores(estimators: Sequence[Linear], X: csr_matrix) -> Matrix:
        """Raw decision scores (log-odds before calibration), one column per estimator."""
        return np.column_stack([np.asarray(e.decision_function(X)) for e in estimators])

    # -- estimator API ---------------------------------------------------------------------
    def fit(
        self,
        X: Sequence[str],
        y: NDArray[np.int_],
        progress: Callable[[str], None] | None = None,
    ) -> TriageModel:
        """Fit on texts `X` and indicator matrix `y`; calibrate and tune thresholds on
        cross-validated scores. `progress`, when given, is called after each step."""
        texts = list(X)
        y = np.asarray(y, dtype=np.int_)
        if y.ndim != 2 or y.shape != (len(texts), len(self.labels) + 1):
            raise ValueError(
                f"y must have shape (n_samples, {len(self.labels) + 1}), got {y.shape}"
            )
        step = progress or (lambda _message: None)
        solver = self._solver_for(len(texts))
        # Vocabulary and idf are learned once from all training texts: no labels are used,
        # and a term seen only in a held-out fold gets no weight from that fold's fit.
        features = self._features()
        matrix = fit_transform(features, texts)
        step("features")
        rows = np.arange(len(texts))
        if len(texts) > self.large_data:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(len(texts), self.large_data, replace=False))
        scores = np.zeros((len(rows), y.shape[1]), dtype=np.float64)
        folds = KFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        for number, (train, valid) in enumerate(folds.split(rows), start=1):
            estimators = self._fit_columns(matrix[rows[train]], y[rows[train]], solver)
            scores[valid] = self._scores(estimators, matrix[rows[valid]])
            step(f"cross-validation fold {number}/{self.cv}")
        truth = y[rows]
        self.calibration_ = np.array(
            [platt(scores[:, j], truth[:, j]) for j in range(y.shape[1])], dtype=np.float64
        )
        self.cv_rows_ = rows
        self.oof_proba_ = self._calibrate(scores)
        self.thresholds_ = np.array(
            [best_f1_threshold(truth[:, j], self.oof_proba_[:, j]) for j in range(len(self.labels))]
        )
        self.escalation_threshold_ = recall_threshold(
            truth[:, -1], self.oof_proba_[:, -1], self.escalation_recall
        )
        self.features_ = features
        self.estimators_ = self._fit_columns(matrix, y, solver)
        self.solver_ = solver
        self.classes_ = np.array([*self.labels, "escalate"])
        step("final fit")
        return self

    def _calibrate(self, scores: Matrix) -> Matrix:
        return sigmoid(scores * self.calibration_[:, 0] + self.calibration_[:, 1])

    def predict_proba(self, X: Sequence[str]) -> Matrix:
        """Calibrated probabilities, shape (n, len(labels) + 1); the last is escalation."""
        check_is_fitted(self, "features_")
        weights, bias = self._scoring()
        matrix = self._text_features().transform(X)
        return self._calibrate(np.asarray(matrix @ weights) + bias)

    def pipeline_proba(self, X: Sequence[str]) -> Matrix:
        """The same probabilities from scikit-learn's own objects: the fitted FeatureUnion
        and each classifier's ``decision_function``. The reference the fast paths are
        tested against; too slow to serve (about 10 ms of overhead per call)."""
        check_is_fitted(self, "features_")
        return self._calibrate(self._scores(self.estimators_, self.features_.transform(list(X))))

    @property
    def all_thresholds_(self) -> Matrix:
        """Department thresholds followed by the escalation threshold."""
        return np.append(self.thresholds_, self.escalation_threshold_)

    def predict(self, X: Sequence[str]) -> NDArray[np.int_]:
        """0/1 decisions with each column's own threshold, shape (n, len(labels) + 1)."""
        return (self.predict_proba(X) >= self.all_thresholds_).astype(np.int_)

    # -- the fast paths --------------------------------------------------------------------
    def _text_features(self) -> TextFeatures:
        """The union's fast twin (not pickled: derived from the fit)."""
        cached = self.__dict__.get("_text_features_cache")
        if cached is None:
            cached = self.__dict__["_text_features_cache"] = TextFeatures(self.features_)
        return cached

    def vectorize_one(self, text: str, lowered_chunks: Sequence[str] | None = None) -> FeatureRow:
        """The feature row of one text: the values the FeatureUnion gives, without its
        per-call overhead. `lowered_chunks`: the whitespace chunks of ``text.lower()``, when
        already cut."""
        fast = self.__dict__.get("_text_features_cache")
        if fast is None:  # check_is_fitted costs more than the row once the twin exists
            check_is_fitted(self, "features_")
            fast = self._text_features()
        return fast.row(text, lowered_chunks)

    def _scoring(self) -> tuple[Matrix, Matrix]:
        """Coefficients, one column per output (not pickled: derived from the fit). Feature-
        major, so one text's features are contiguous rows rather than scattered columns."""
        cached = self.__dict__.get("_scoring_cache")
        if cached is None:
            columns = [self._coefficients(c) for c in range(len(self.labels) + 1)]
            weights = np.ascontiguousarray(np.column_stack(columns))
            bias = np.array([float(np.ravel(e.intercept_)[0]) for e in self.estimators_])
            cached = self.__dict__["_scoring_cache"] = (weights, bias)
        return cached

    def warm_up(self) -> None:
        """Build the derived caches now, so the first request does not pay for them."""
        self._scoring()
        self._text_features()

    def row_weights(self, row: FeatureRow) -> Matrix:
        """The coefficients of `row`'s features, one row per feature. Gathered once, they
        serve both the probabilities and the attribution: the second gather of the same
        scattered rows of a 7 MB matrix found them out of the CPU caches again."""
        # take: a third of the time of fancy indexing for the same rows
        return self._scoring()[0].take(row.indices, axis=0)

    def predict_proba_row(self, row: FeatureRow, weights: Matrix | None = None) -> Matrix:
        """Probabilities for one vectorized text, equal to `predict_proba` on it
        (`weights`: its `row_weights`, when already gathered)."""
        gathered = self.row_weights(row) if weights is None else weights
        return self._calibrate(row.data @ gathered + self._scoring()[1])

    def predict_proba_rows(self, X: Sequence[str]) -> tuple[Matrix, list[FeatureRow]]:
        """`predict_proba` for many texts, and each text's feature row: one vectorisation
        of the batch then serves the evidence too, which would otherwise cut every text
        again."""
        check_is_fitted(self, "features_")
        weights, bias = self._scoring()
        matrix = self._text_features().transform(X)
        matrix.sort_indices()  # FeatureRow promises sorted columns
        indices = matrix.indices.astype(np.intp, copy=False)
        rows = [
            FeatureRow(indices[start:end], matrix.data[start:end])
            for start, end in zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True)
        ]
        return self._calibrate(np.asarray(matrix @ weights) + bias), rows

    def __getstate__(self) -> dict[str, Any]:
        # a copy: scikit-learn may hand back the live __dict__ itself
        state: dict[str, Any] = dict(super().__getstate__())
        state.pop("_scoring_cache", None)
        state.pop("_text_features_cache", None)
        if "features_" in state:
            state["features_"] = packed(state["features_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "features_" in self.__dict__:
            unpack(self.features_)

    # -- explanations ----------------------------------------------------------------------
    def _coefficients(self, column: int) -> Matrix:
        coef = self.estimators_[column].coef_
        return np.asarray(coef, dtype=np.float64).ravel()

    def term_contributions_many(
        self,
        text: str,
        columns: Sequence[int],
        row: FeatureRow | None = None,
        chunks: Sequence[tuple[str, str]] | None = None,
        weights: Matrix | None = None,
    ) -> list[dict[str, float]]:
        """How much each word of `text` raised the score of each of `columns` (log-odds).

        `chunks`, when given, are the text's lower-cased whitespace chunks with their terms
        (as `evidence.Passage` holds them), so the text is not cut twice; `weights`, the
        row's `row_weights`, when already gathered."""
        row = row if row is not None else self.vectorize_one(text)
        terms, (owner_ids, positions, values) = attribute(self._text_features(), text, row, chunks)
        # the chosen columns at the row's features first: fewer rows than the shares
        gathered = self.row_weights(row) if weights is None else weights
        gathered = gathered.take(list(columns), axis=1).take(positions, axis=0).T
        return [
            dict(zip(terms, np.bincount(owner_ids, values * w, len(terms)).tolist(), strict=True))
            for w in gathered
        ]

    def term_contributions(
        self, text: str, column: int, row: FeatureRow | None = None
    ) -> dict[str, float]:
        """How much each word of `text` raised the score of `column` (log-odds units)."""
        return self.term_contributions_many(text, [column], row)[0]
