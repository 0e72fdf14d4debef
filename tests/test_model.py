"""TriageModel: fit/predict, determinism, thresholds and scikit-learn conventions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Record
from classifier.evaluation import label_matrix
from classifier.model import TriageModel, best_f1_threshold, recall_threshold

TEXTS = [
    "I was charged twice for my order, please refund the second payment",
    "The parcel never arrived and tracking has not moved for a week",
    "Your app crashes every time I open the settings page",
]


def test_predict_proba_has_a_column_per_department_and_one_for_escalation(
    tiny_model: TriageModel,
) -> None:
    proba = tiny_model.predict_proba(TEXTS)
    assert proba.shape == (3, len(DEPARTMENT_IDS) + 1)
    assert np.all((proba >= 0) & (proba <= 1))


def test_tiny_model_recognises_obvious_departments(tiny_model: TriageModel) -> None:
    proba = tiny_model.predict_proba(TEXTS)
    column = {label: j for j, label in enumerate(DEPARTMENT_IDS)}
    assert proba[0, column["finance"]] > proba[0, column["logistics_operations"]]
    assert proba[1, column["logistics_operations"]] > proba[1, column["finance"]]
    assert proba[2, column["engineering_qc"]] > proba[2, column["sales"]]


def test_same_data_and_seed_give_the_same_predictions(tiny_records: list[Record]) -> None:
    records = tiny_records[:150]
    texts, y = [r.text for r in records], label_matrix(records, DEPARTMENT_IDS)
    first = TriageModel(cv=3, random_state=3).fit(texts, y)
    second = TriageModel(cv=3, random_state=3).fit(texts, y)
    np.testing.assert_array_equal(first.predict_proba(TEXTS), second.predict_proba(TEXTS))
    np.testing.assert_array_equal(first.thresholds_, second.thresholds_)
    assert first.escalation_threshold_ == second.escalation_threshold_


def test_thresholds_are_learned_per_label_and_applied(tiny_model: TriageModel) -> None:
    assert tiny_model.thresholds_.shape == (len(DEPARTMENT_IDS),)
    assert np.all((tiny_model.thresholds_ > 0) & (tiny_model.thresholds_ < 1))
    proba = tiny_model.predict_proba(TEXTS)
    expected = (proba >= tiny_model.all_thresholds_).astype(int)
    np.testing.assert_array_equal(tiny_model.predict(TEXTS), expected)


def test_changing_a_threshold_changes_the_decision(tiny_model: TriageModel) -> None:
    finance = DEPARTMENT_IDS.index("finance")
    saved = tiny_model.thresholds_.copy()
    try:
        tiny_model.thresholds_[finance] = 0.999
        assert tiny_model.predict(TEXTS[:1])[0, finance] == 0
        tiny_model.thresholds_[finance] = 0.001
        assert tiny_model.predict(TEXTS[:1])[0, finance] == 1
    finally:
        tiny_model.thresholds_[:] = saved


def test_unfitted_model_refuses_to_predict() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TriageModel().predict(TEXTS)


def test_fit_rejects_a_label_matrix_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        TriageModel(cv=2).fit(TEXTS, np.zeros((3, 4), dtype=int))


def test_clone_keeps_parameters_and_drops_learned_state(tiny_model: TriageModel) -> None:
    copy = clone(tiny_model)
    assert copy.get_params() == tiny_model.get_params()
    assert not hasattr(copy, "thresholds_")


def test_best_f1_threshold_separates_clean_scores() -> None:
    truth = np.array([0, 0, 0, 1, 1, 1])
    proba = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    threshold = best_f1_threshold(truth, proba)
    assert 0.3 < threshold <= 0.7


def test_recall_threshold_reaches_the_target_recall() -> None:
    truth = np.array([1, 1, 1, 1, 0, 0])
    proba = np.array([0.9, 0.8, 0.4, 0.2, 0.5, 0.1])
    threshold = recall_threshold(truth, proba, 0.75)
    assert np.mean(proba[truth == 1] >= threshold) >= 0.75
    assert threshold > 0.2


def test_term_contributions_credit_the_words_that_raise_a_label(
    tiny_model: TriageModel,
) -> None:
    finance = DEPARTMENT_IDS.index("finance")
    scores = tiny_model.term_contributions(TEXTS[0], finance)
    top = sorted(scores, key=lambda t: -scores[t])[:4]
    assert {"refund", "charged", "payment"} & set(top)


def test_single_text_fast_path_gives_the_pipelines_probabilities(
    tiny_model: TriageModel, tiny_records: list[Record]
) -> None:
    texts = [*TEXTS, *(r.text for r in tiny_records[:60]), "refnd?? ", "ÄÖÜ ünïcode ✓"]
    fast = np.array([tiny_model.predict_proba_row(tiny_model.vectorize_one(t)) for t in texts])
    np.testing.assert_allclose(fast, tiny_model.predict_proba(texts), rtol=0, atol=1e-12)


def test_fast_path_cache_is_not_saved_with_the_model(tiny_model: TriageModel) -> None:
    import pickle

    tiny_model.predict_proba_row(tiny_model.vectorize_one(TEXTS[0]))
    assert "_scoring_cache" in tiny_model.__dict__
    assert "_scoring_cache" not in pickle.loads(pickle.dumps(tiny_model)).__dict__
