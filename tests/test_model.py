"""TriageModel: fit/predict, determinism, thresholds and scikit-learn conventions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Record
from classifier.evaluation import label_matrix
from classifier.model import TriageModel, best_f1_threshold, platt, recall_threshold

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
        tiny_model.thresholds_[finance] = 1.01  # above any probability
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


def test_fast_paths_give_the_fitted_pipelines_probabilities(
    tiny_model: TriageModel, tiny_records: list[Record]
) -> None:
    texts = [*TEXTS, *(r.text for r in tiny_records[:60]), "refnd?? ", "ÄÖÜ ünïcode ✓", ""]
    reference = tiny_model.pipeline_proba(texts)  # FeatureUnion + each decision_function
    one_by_one = np.array(
        [tiny_model.predict_proba_row(tiny_model.vectorize_one(t)) for t in texts]
    )
    np.testing.assert_allclose(one_by_one, reference, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tiny_model.predict_proba(texts), reference, rtol=0, atol=1e-12)


def test_fast_path_caches_are_not_saved_with_the_model(tiny_model: TriageModel) -> None:
    import pickle

    tiny_model.predict_proba_row(tiny_model.vectorize_one(TEXTS[0]))
    assert {"_scoring_cache", "_text_features_cache"} <= set(tiny_model.__dict__)
    restored = pickle.loads(pickle.dumps(tiny_model)).__dict__
    assert not {"_scoring_cache", "_text_features_cache"} & set(restored)


def test_platt_scaling_recovers_a_known_sigmoid() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 3, 20_000)
    truth = (rng.random(20_000) < 1 / (1 + np.exp(-(0.5 * scores - 1.0)))).astype(int)
    a, b = platt(scores, truth)
    assert a == pytest.approx(0.5, abs=0.03)
    assert b == pytest.approx(-1.0, abs=0.06)


def test_platt_scaling_never_reverses_the_order_of_scores() -> None:
    scores = np.array([-2.0, -1.0, 1.0, 2.0])
    assert platt(scores, np.array([1, 1, 0, 0])) == (1.0, 0.0)  # would need a < 0
    assert platt(scores, np.zeros(4, dtype=int)) == (1.0, 0.0)  # one class only


def test_calibration_lowers_the_calibration_error_of_held_out_scores(
    tiny_model: TriageModel, train_records: list[Record], tiny_records: list[Record]
) -> None:
    from classifier.report import expected_calibration_error

    seen = {r.id for r in tiny_records}
    held_out = [r for r in train_records if r.id not in seen][:600]
    truth = label_matrix(held_out, DEPARTMENT_IDS)
    calibrated = tiny_model.predict_proba([r.text for r in held_out])
    a, b = tiny_model.calibration_[:, 0], tiny_model.calibration_[:, 1]
    raw = 1 / (1 + np.exp(-((np.log(calibrated / (1 - calibrated)) - b) / a)))
    before = np.mean([expected_calibration_error(truth[:, j], raw[:, j]) for j in range(10)])
    after = np.mean([expected_calibration_error(truth[:, j], calibrated[:, j]) for j in range(10)])
    assert tiny_model.calibration_.shape == (len(DEPARTMENT_IDS) + 1, 2)
    assert np.all(tiny_model.calibration_[:, 0] > 0)
    assert after < before


def test_large_training_sets_switch_to_sgd_and_cross_validate_a_sample(
    tiny_records: list[Record],
) -> None:
    records = tiny_records[:200]
    texts, y = [r.text for r in records], label_matrix(records, DEPARTMENT_IDS)
    model = TriageModel(cv=2, large_data=120, random_state=1).fit(texts, y)
    assert model.solver_ == "sgd"
    assert len(model.cv_rows_) == len(model.oof_proba_) == 120
    assert model.predict_proba(TEXTS).shape == (3, len(DEPARTMENT_IDS) + 1)
    small = TriageModel(cv=2, random_state=1).fit(texts, y)
    assert small.solver_ == "liblinear"
    assert len(small.cv_rows_) == 200


def test_a_label_absent_from_training_gets_a_constant_low_probability(
    tiny_records: list[Record],
) -> None:
    records = [r for r in tiny_records if "marketing_pr" not in r.departments][:120]
    texts, y = [r.text for r in records], label_matrix(records, DEPARTMENT_IDS)
    model = TriageModel(cv=2, random_state=1).fit(texts, y)
    column = DEPARTMENT_IDS.index("marketing_pr")
    assert np.all(model.predict_proba(TEXTS)[:, column] < 0.01)
    assert not model.predict(TEXTS)[:, column].any()
