"""Prediction speed in process: one complaint at a time, and batches on one core.

Machines here are shared and noisy, so every figure is printed next to a baseline measured in
the same run: a plain scikit-learn `Pipeline` (the DESIGN.md FeatureUnion of word and
character TF-IDF, then one-vs-rest logistic regression) fitted here on the same training data
and called with `predict_proba`. Targets (issue 5): one complaint through the whole triage
(model + evidence + policy + both drafts) p99 under 3 ms; batch prediction at least 5,000
complaints a second on one core.

    python bench/triage_latency.py [--calls 1000] [--batch-repeat 3]
"""

from __future__ import annotations

import os

# One core: pin the process and keep numerical libraries to one thread, before importing them.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import pickle  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from classifier.case import CaseContext  # noqa: E402
from classifier.catalogue import DEPARTMENT_IDS, load_catalogue  # noqa: E402
from classifier.data import load_records  # noqa: E402
from classifier.evaluation import label_matrix  # noqa: E402
from classifier.registry import ModelHolder, load_champion  # noqa: E402
from classifier.settings import get_settings  # noqa: E402
from classifier.triage import build_service  # noqa: E402


def timed(
    calls: int, texts: list[str], work: Callable[[str], object], warm: int = 20
) -> list[float]:
    for text in texts[:warm]:  # warm lazy imports before timing
        work(text)
    samples = []
    for i in range(calls):
        text = texts[i % len(texts)]
        start = time.perf_counter()
        work(text)
        samples.append(time.perf_counter() - start)
    return samples


def per_second(texts: list[str], work: Callable[[list[str]], object]) -> float:
    start = time.perf_counter()
    work(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="single calls per measurement")
    parser.add_argument(
        "--batch-repeat", type=int, default=3, help="batch = every complaint this many times"
    )
    parser.add_argument("--data", type=Path, help="training JSONL for the baseline pipeline")
    parser.add_argument("--models-dir", type=Path, help="where the champion is")
    args = parser.parse_args()
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue)
    loaded = load_champion(args.models_dir or settings.models_dir, catalogue.ids)
    model = loaded.model
    train = load_records(args.data or settings.training_data)
    texts = [r.text for r in load_records(settings.test_data)]

    pipeline = Pipeline(
        [
            ("features", model._features()),
            ("departments", OneVsRestClassifier(
                LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear")
            )),
        ]
    )  # fmt: skip
    pipeline.fit([r.text for r in train], label_matrix(train, DEPARTMENT_IDS)[:, :-1])

    service = build_service(settings, ModelHolder(loaded), catalogue)
    context = CaseContext(case_ref="BENCH-1", tier="gold", previous_contacts=1)
    single = {
        "baseline: Pipeline.predict_proba": timed(
            args.calls, texts, lambda t: pipeline.predict_proba([t])
        ),
        "fast path: probabilities only": timed(
            args.calls, texts, lambda t: model.predict_proba_row(model.vectorize_one(t))
        ),
        "triage: model+evidence+policy+drafts": timed(
            args.calls, texts, lambda t: service.triage(t, context)
        ),
    }
    # A CRM sends each complaint once: time texts this process has not seen, after the
    # training texts have passed through as earlier traffic would have (new words still miss
    # the per-word cache, and the CPU caches hold other texts).
    fresh_service = build_service(settings, ModelHolder(load_champion(
        args.models_dir or settings.models_dir, catalogue.ids
    )), catalogue)  # fmt: skip
    for record in train:
        fresh_service.triage(record.text, context)
    single["triage, each text seen once"] = timed(
        len(texts), texts, lambda t: fresh_service.triage(t, context), warm=0
    )
    base = statistics.median(single["baseline: Pipeline.predict_proba"])
    print(f"model {loaded.version}; one core; texts from the frozen test set ({len(texts)})")
    print()
    print(f"One complaint at a time, {args.calls} calls each (the last: {len(texts)})")
    print(f"{'':<40}{'median ms':>10}{'p90 ms':>9}{'p99 ms':>9}{'median vs base':>16}")
    for name, samples in single.items():
        quantiles = statistics.quantiles(samples, n=100)
        print(
            f"{name:<40}{statistics.median(samples) * 1000:>10.2f}{quantiles[89] * 1000:>9.2f}"
            f"{quantiles[98] * 1000:>9.2f}{statistics.median(samples) / base:>15.2f}x"
        )

    batch = [*texts, *(r.text for r in train)] * args.batch_repeat
    fresh = pickle.loads(pickle.dumps(model))  # as after a fresh load: nothing remembered
    fresh.warm_up()
    rates = {
        "baseline: Pipeline.predict_proba": per_second(batch, pipeline.predict_proba),
        "ours, first pass (empty word cache)": per_second(batch, fresh.predict),
        "ours, warm": per_second(batch, model.predict),
    }
    print()
    print(f"Batches: {len(batch):,} complaints in one call (test + training texts)")
    print(f"{'':<40}{'complaints/s':>14}{'vs base':>10}")
    for name, rate in rates.items():
        ratio = rate / rates["baseline: Pipeline.predict_proba"]
        print(f"{name:<40}{rate:>14,.0f}{ratio:>9.1f}x")


if __name__ == "__main__":
    main()
