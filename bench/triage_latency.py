"""Single-complaint triage time in-process: the median over 1,000 calls.

Machines here are shared and noisy, so the figure is also printed as a ratio against a
baseline measured in the same run: the plain scikit-learn `predict_proba` on one text. Triage
uses a fast path for one complaint (the vectorizers called directly, sparse scoring) and adds
evidence, policy and drafting on top; the ratio shows the net cost.

    python bench/triage_latency.py [--calls 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from classifier.case import CaseContext
from classifier.catalogue import load_catalogue
from classifier.data import load_records
from classifier.registry import load_champion
from classifier.settings import get_settings
from classifier.triage import ModelHolder, build_service


def timed(calls: int, texts: list[str], work: Callable[[str], object]) -> list[float]:
    for text in texts[:20]:  # warm caches and lazy imports before timing
        work(text)
    samples = []
    for i in range(calls):
        text = texts[i % len(texts)]
        start = time.perf_counter()
        work(text)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per measurement")
    args = parser.parse_args()
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue)
    loaded = load_champion(settings.models_dir, catalogue.ids)
    service = build_service(settings, ModelHolder(loaded), catalogue)
    texts = [r.text for r in load_records(settings.test_data)]
    context = CaseContext(case_ref="BENCH-1", tier="gold", previous_contacts=1)

    baseline = timed(args.calls, texts, lambda t: loaded.model.predict_proba([t]))
    triage = timed(args.calls, texts, lambda t: service.triage(t, context))

    def row(name: str, samples: list[float]) -> str:
        median = statistics.median(samples) * 1000
        p90 = statistics.quantiles(samples, n=10)[-1] * 1000
        p99 = statistics.quantiles(samples, n=100)[-1] * 1000
        ratio = statistics.median(samples) / statistics.median(baseline)
        return f"{name:<34}{median:>10.2f}{p90:>10.2f}{p99:>10.2f}{ratio:>10.2f}x"

    print(f"model {loaded.version}, {args.calls} calls each, texts from the test set")
    print(f"{'':<34}{'median ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'vs base':>11}")
    print(row("baseline: model.predict_proba", baseline))
    print(row("triage: classify+evidence+drafts", triage))


if __name__ == "__main__":
    main()
