"""What the Prometheus middleware adds to each request, in microseconds.

An ASGI app that answers at once (after setting the matched route, as the router does) is
called directly, without a network, with and without `MetricsMiddleware` around it; the
difference is the middleware's own cost. Rounds alternate so the machine's noise falls on
both alike, and each figure is the best round. Run twice: values in this process's memory
(one worker), and in PROMETHEUS_MULTIPROC_DIR files (what `serve --workers N` uses), in a
child process, because prometheus_client chooses where values live when first imported.

    python bench/metrics_overhead.py [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from starlette.routing import Route

MODE_VARIABLE = "METRICS_OVERHEAD_MODE"  # set in the child that measures one mode
ROUNDS = 10
ROUTE = Route("/v1/triage", endpoint=lambda request: None, methods=["POST"])


async def answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _timed(app: Any, requests: int) -> float:
    """Seconds per request, calling `app` as an ASGI server would."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/triage", "raw_path": b"/v1/triage", "root_path": "",
        "query_string": b"", "headers": [(b"content-type", b"application/json")],
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - start) / requests


def measure(requests: int) -> tuple[float, float]:
    """Best microseconds per request without and with the middleware."""
    # Imported here: prometheus_client must see PROMETHEUS_MULTIPROC_DIR first.
    from classifier.api.metrics import Metrics, MetricsMiddleware

    metered = MetricsMiddleware(answer, Metrics(lambda: "bench"))
    rounds: dict[bool, list[float]] = {False: [], True: []}

    async def run() -> None:
        await _timed(metered, 1000)  # warm up: the first request builds the label children
        for _ in range(ROUNDS):
            rounds[False].append(await _timed(answer, requests // ROUNDS))
            rounds[True].append(await _timed(metered, requests // ROUNDS))

    asyncio.run(run())
    return min(rounds[False]) * 1e6, min(rounds[True]) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    mode = os.environ.get(MODE_VARIABLE)
    if mode:  # the child: measure and print one row
        without, with_ = measure(args.requests)
        print(f"{mode:<13} {without:>10.1f} {with_:>10.1f} {with_ - without:>9.1f}")
        return
    print(f"{'values in':<13} {'bare µs':>10} {'metered µs':>10} {'added µs':>9}")
    for name in ("memory", "files"):
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory() as directory:
            if name == "files":
                env["PROMETHEUS_MULTIPROC_DIR"] = directory
            env[MODE_VARIABLE] = name
            subprocess.run([sys.executable, __file__, "--requests", str(args.requests)],
                           env=env, check=True)  # fmt: skip


if __name__ == "__main__":
    main()
