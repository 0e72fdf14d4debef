"""What privacy and request ids cost per call: masking a complaint (the longest training
texts and all of them), masking what is stored of a triage holding personal data, and the
request-id middleware with its JSON access line, next to the same ASGI app without them.

The service must serve ~700 requests/s on 2 workers, so a request's budget is ~2,800 µs of
one core; this prints each cost next to that budget.

    python bench/privacy_cost.py [--requests 20000] [--rounds 50] [--models-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from classifier import registry
from classifier.api.request_id import RequestIdMiddleware
from classifier.case import CaseContext
from classifier.casework import NewHandoff
from classifier.catalogue import load_catalogue
from classifier.document import triage_document
from classifier.logs import log_config
from classifier.masking import StoredMasking
from classifier.redact import Redactor, find, mask
from classifier.settings import get_settings
from classifier.triage import ModelHolder, build_service

BUDGET_US = 2 * 1_000_000 / 700  # two workers' cores shared by 700 requests a second


def _per_call_us(function: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


async def _bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"{}"})


def _asgi_us(app: Any, requests: int, headers: list[tuple[bytes, bytes]]) -> float:
    scope = {"type": "http", "method": "POST", "path": "/v1/triage", "headers": headers,
             "client": ("127.0.0.1", 50000)}  # fmt: skip

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - started) / requests * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="ASGI calls per variant")
    parser.add_argument("--rounds", type=int, default=50, help="passes over the texts")
    parser.add_argument("--models-dir", type=Path, help="where the champion is")
    args = parser.parse_args()
    settings = get_settings()
    texts = [json.loads(line)["text"] for line in settings.training_data.open(encoding="utf-8")]
    longest = sorted(texts, key=len)[-20:]
    rows: list[tuple[str, float]] = []

    def over(sample: list[str], rounds: int) -> float:
        return _per_call_us(lambda: [mask(t) for t in sample], rounds) / len(sample)

    rows.append((f"mask(), the 20 longest texts (~{sum(map(len, longest)) // 20} chars)",
                 over(longest, args.rounds)))  # fmt: skip
    rows.append(
        (f"mask(), all {len(texts)} training texts", over(texts, max(1, args.rounds // 25)))
    )

    # What _save masks: a real triage of the longest complaint, with and without contact data.
    catalogue = load_catalogue(settings.catalogue)
    loaded = registry.load_champion(args.models_dir or settings.models_dir, catalogue.ids)
    service = build_service(settings, ModelHolder(loaded), catalogue)
    masking = StoredMasking(Redactor())
    contact = "\nCall me on +44 7700 900123 or write to ana.garcia@example.com."
    plain = next(t for t in sorted(texts, key=len, reverse=True) if not find(t))
    for label, text in (("without", plain), ("with", plain + contact)):
        result = service.triage(text, CaseContext())
        document = triage_document(result, service.names())
        handoffs = [NewHandoff(i, h.department, h.subject, h.body, h.due)
                    for i, h in zip(result.handoff_ids, result.handoffs, strict=True)]  # fmt: skip
        micros = _per_call_us(
            lambda t=text, d=document, h=handoffs: masking.triage(t, {}, d, h), args.rounds * 4
        )
        rows.append((f"a stored triage {label} personal data, masked for the store", micros))

    config = log_config(settings.model_copy(update={"log_format": "json", "log_level": "info"}))
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        config["handlers"]["stderr"]["stream"] = devnull
        logging.config.dictConfig(config)
        wrapped = RequestIdMiddleware(_bare)
        headers = [(b"host", b"localhost"), (b"content-type", b"application/json")]
        given = [*headers, (b"x-request-id", b"crm-2026-11-24-000042")]
        bare = _asgi_us(_bare, args.requests, headers)
        made = _asgi_us(wrapped, args.requests, headers)
        echoed = _asgi_us(wrapped, args.requests, given)
    rows.append(("request id made + JSON access line, per request", made - bare))
    rows.append(("request id echoed + JSON access line, per request", echoed - bare))

    width = max(len(name) for name, _ in rows)
    print(f"{'what':<{width}}  {'µs':>8}  {'of a request budget':>20}")
    for name, micros in rows:
        print(f"{name:<{width}}  {micros:8.1f}  {micros / BUDGET_US:19.1%}")
    print(f"(budget: {BUDGET_US:,.0f} µs of CPU per request at 700 requests/s on 2 workers)")


if __name__ == "__main__":
    main()
