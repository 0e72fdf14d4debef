"""What a champion swap costs the requests in flight: single-complaint triage latency while
another thread loads and verifies a model (as the server's reloader does), next to the same
calls with no load going on, measured in the same run.

Issue 7 asks that a swap neither fails nor delays requests in flight. Nothing fails: the swap
is one reference assignment. Loading shares the interpreter with the requests for the time it
takes, and this prints what that costs them.

    python bench/reload_latency.py [--loads 10]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

from classifier import registry
from classifier.case import CaseContext
from classifier.catalogue import load_catalogue
from classifier.data import load_records
from classifier.registry import ModelHolder
from classifier.reloader import load_beside_requests
from classifier.settings import get_settings
from classifier.triage import build_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10, help="models loaded during the calls")
    parser.add_argument("--models-dir", type=Path, help="where the champion is")
    parser.add_argument(
        "--plain", action="store_true", help="registry.load as it is, not as the server loads"
    )
    args = parser.parse_args()
    settings = get_settings()
    models_dir = args.models_dir or settings.models_dir
    catalogue = load_catalogue(settings.catalogue)
    version = registry.champion(models_dir)
    if version is None:
        raise SystemExit(f"no champion in {models_dir}; run `make model` first")
    holder = ModelHolder(registry.load(models_dir, version, catalogue.ids))
    service = build_service(settings, holder, catalogue)
    texts = [r.text for r in load_records(settings.test_data)]
    context = CaseContext()
    for text in texts[:50]:
        service.triage(text, context)

    def calls(stop: threading.Event) -> list[float]:
        samples, i = [], 0
        while not stop.is_set():
            start = time.perf_counter()
            service.triage(texts[i % len(texts)], context)
            samples.append(time.perf_counter() - start)
            i += 1
        return samples

    # Baseline: the same calls for as long as the loads take, with nothing else running.
    load_seconds = []
    for _ in range(args.loads):
        start = time.perf_counter()
        registry.load(models_dir, version, catalogue.ids)
        load_seconds.append(time.perf_counter() - start)
    quiet_stop = threading.Event()
    timer = threading.Timer(sum(load_seconds), quiet_stop.set)
    timer.start()
    quiet = calls(quiet_stop)

    busy_stop = threading.Event()
    loading = registry.load if args.plain else load_beside_requests

    def reload() -> None:
        for _ in range(args.loads):
            holder.swap(loading(models_dir, version, catalogue.ids))
        busy_stop.set()

    loader = threading.Thread(target=reload)
    loader.start()
    busy = calls(busy_stop)
    loader.join()

    print(f"model {version}; {args.loads} loads of {statistics.median(load_seconds):.3f} s each")
    print(f"{'triage calls':<34}{'calls':>7}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}")
    for name, samples in [("no load going on (baseline)", quiet), ("while a model loads", busy)]:
        p99 = statistics.quantiles(samples, n=100, method="inclusive")[98]
        print(
            f"{name:<34}{len(samples):>7}{statistics.median(samples) * 1000:>11.2f}"
            f"{p99 * 1000:>9.2f}{max(samples) * 1000:>9.2f}"
        )
    ratio = (
        statistics.quantiles(busy, n=100, method="inclusive")[98]
        / statistics.quantiles(quiet, n=100, method="inclusive")[98]
    )
    print(f"p99 while loading vs baseline: {ratio:.1f}x")


if __name__ == "__main__":
    main()
