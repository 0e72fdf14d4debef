"""What privacy and request ids cost per call: masking a complaint (the longest training
texts and all of them), masking what is stored of a triage holding personal data, and the
request-id middleware with its JSON access line, next to the same ASGI app without them.

Each cost is printed next to a whole triage of the longest complaint measured in the same
run, so the ratio holds on a busy machine too (each timing is the best of five).

    python bench/privacy_cost.py [--requests 5000] [--rounds 10] [--models-dir DIR]
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
from classifier.registry import ModelHolder
from classifier.settings import get_settings
from classifier.triage import build_service


def _per_call_us(function: Callable[[], object], calls: int, repeats: int = 5) -> float:
    """The best of `repeats` timings: other processes on a shared machine only add time."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


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
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(requests):
                await app(dict(scope), receive, send)
            best = min(best, time.perf_counter() - started)
        return best / requests * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000, help="ASGI calls per timing")
    parser.add_argument("--rounds", type=int, default=10, help="calls per timing")
    parser.add_argument("--models-dir", type=Path, help="where the champion is")
    args = parser.parse_args()
    settings = get_settings()
    texts = [json.loads(line)["text"] for line in settings.training_data.open(encoding="utf-8")]
    longest = sorted(texts, key=len)[-20:]
    catalogue = load_catalogue(settings.catalogue)
    loaded = registry.load_champion(args.models_dir or settings.models_dir, catalogue.ids)
    service = build_service(settings, ModelHolder(loaded), catalogue)  # no store: no saving

    # The baseline: a whole triage (model, evidence, policy, drafts) of the longest complaint
    # without personal data, and the same with a phone number and an e-mail address added.
    plain = next(t for t in sorted(texts, key=len, reverse=True) if not find(t))
    contact = plain + "\nCall me on +44 7700 900123 or write to ana.garcia@example.com."
    triage_us = _per_call_us(lambda: service.triage(plain, CaseContext()), args.rounds)
    rows: list[tuple[str, float]] = []

    def per_text(sample: list[str]) -> float:
        return _per_call_us(lambda: [mask(t) for t in sample], args.rounds) / len(sample)

    rows.append((f"mask(), the 20 longest texts (~{sum(map(len, longest)) // 20} chars)",
                 per_text(longest)))  # fmt: skip
    rows.append((f"mask(), all {len(texts)} training texts", per_text(texts[::10])))
    masking = StoredMasking(Redactor())
    for label, text in (("without", plain), ("with", contact)):
        result = service.triage(text, CaseContext())
        document = triage_document(result, service.names())
        handoffs = [NewHandoff(i, h.department, h.subject, h.body, h.due)
                    for i, h in zip(result.handoff_ids, result.handoffs, strict=True)]  # fmt: skip
        micros = _per_call_us(
            lambda t=text, d=document, h=handoffs: masking.triage(t, {}, d, h), args.rounds * 10
        )
        rows.append((f"what a triage {label} personal data stores, masked", micros))

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
    print(f"{'what':<{width}}  {'µs':>8}  {'of one triage':>13}")
    for name, micros in rows:
        print(f"{name:<{width}}  {micros:8.1f}  {micros / triage_us:13.1%}")
    print(f"(baseline in this run: one triage of the longest complaint, {triage_us:,.0f} µs;"
          f" best of 5 timings each)")  # fmt: skip


if __name__ == "__main__":
    main()
