"""Which classifier should the model use? Cross-validates candidates on the same features.

Every candidate gets the DESIGN.md features (word 1-2 gram + char 3-5 gram TF-IDF), one-vs-rest
for departments and its own escalation classifier, 5-fold cross-validation on the training
data only, and the same threshold tuning on the out-of-fold probabilities (best F1 per label;
escalation at 90% recall). Times are printed as ratios to logistic regression's, measured in
the same run.

    python bench/compare_models.py [--folds 5]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import load_records
from classifier.evaluation import label_matrix
from classifier.model import TriageModel, best_f1_threshold, recall_threshold
from classifier.settings import get_settings

CANDIDATES: dict[str, Callable[[int], Any]] = {
    "logistic regression": lambda seed: LogisticRegression(
        C=10.0, class_weight="balanced", solver="liblinear", random_state=seed
    ),
    "calibrated linear SVM": lambda seed: CalibratedClassifierCV(
        LinearSVC(C=0.5, class_weight="balanced", random_state=seed), cv=3
    ),
    "complement naive Bayes": lambda seed: ComplementNB(alpha=0.3),
    "SGD (modified Huber)": lambda seed: SGDClassifier(
        loss="modified_huber", alpha=1e-5, class_weight="balanced", random_state=seed
    ),
}


def evaluate(
    make: Callable[[int], Any], texts: list[str], y: np.ndarray, folds: int, seed: int
) -> dict[str, float]:
    oof = np.zeros(y.shape)
    fit_seconds = predict_seconds = 0.0
    predicted = 0
    for train, valid in KFold(folds, shuffle=True, random_state=seed).split(texts):
        features = TriageModel(random_state=seed)._features()
        start = time.perf_counter()
        X = features.fit_transform([texts[i] for i in train])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            departments = OneVsRestClassifier(make(seed)).fit(X, y[train, :-1])
            escalation = make(seed).fit(X, y[train, -1])
        fit_seconds += time.perf_counter() - start
        start = time.perf_counter()
        Xv = features.transform([texts[i] for i in valid])
        oof[valid, :-1] = departments.predict_proba(Xv)
        oof[valid, -1] = escalation.predict_proba(Xv)[:, 1]
        predict_seconds += time.perf_counter() - start
        predicted += len(valid)
    thresholds = [best_f1_threshold(y[:, j], oof[:, j]) for j in range(y.shape[1] - 1)]
    decided = (oof[:, :-1] >= np.array(thresholds)).astype(int)
    escalate = (oof[:, -1] >= recall_threshold(y[:, -1], oof[:, -1], 0.9)).astype(int)
    return {
        "macro_f1": f1_score(y[:, :-1], decided, average="macro", zero_division=0),
        "micro_f1": f1_score(y[:, :-1], decided, average="micro", zero_division=0),
        "esc_recall": recall_score(y[:, -1], escalate),
        "esc_precision": precision_score(y[:, -1], escalate, zero_division=0),
        "fit_s": fit_seconds / folds,
        "predict_per_1000_s": predict_seconds / predicted * 1000,
    }


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=settings.seed)
    args = parser.parse_args()
    records = load_records(settings.training_data)
    texts, y = [r.text for r in records], label_matrix(records, DEPARTMENT_IDS)
    print(f"{len(records)} training complaints, {args.folds}-fold cross-validation")
    print(f"{'model':<24}{'macro-F1':>9}{'micro-F1':>9}{'esc rec':>9}{'esc prec':>9}"
          f"{'fit s':>8}{'fit vs LR':>10}{'pred ms/1k':>11}{'pred vs LR':>11}")  # fmt: skip
    base: dict[str, float] = {}
    for name, make in CANDIDATES.items():
        r = evaluate(make, texts, y, args.folds, args.seed)
        base = base or r
        print(f"{name:<24}{r['macro_f1']:>9.3f}{r['micro_f1']:>9.3f}{r['esc_recall']:>9.3f}"
              f"{r['esc_precision']:>9.3f}{r['fit_s']:>8.1f}{r['fit_s'] / base['fit_s']:>9.1f}x"
              f"{r['predict_per_1000_s'] * 1000:>11.0f}"
              f"{r['predict_per_1000_s'] / base['predict_per_1000_s']:>10.1f}x",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
