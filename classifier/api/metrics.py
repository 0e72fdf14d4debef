"""Prometheus metrics: requests by route template and status, and what the triages decided.

Each app gets its own metric objects, so test apps in one process do not add up. Under
`uvicorn --workers N` every worker is its own process: with PROMETHEUS_MULTIPROC_DIR set
(`complaint-triage serve` sets a fresh private one) the values live in files there and
GET /metrics sums every worker's, whichever worker answers. The serving model's version is
the answering worker's; workers follow the same champion, so they agree after a reload.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from classifier.triage import TriageResult, TriageService

log = logging.getLogger(__name__)
# The *_created series (each counter's creation time) double the output for little use, and
# multiprocess mode has none: without them one worker and several read the same.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Requests that match no route share one label, so scanners cannot grow the series.
UNMATCHED = "unmatched"
# Triage takes milliseconds, a batch up to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_directory() -> str | None:
    """The shared metrics directory when this process runs in multiprocess mode."""
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if not directory:
        return None
    if values.ValueClass is values.MutexValue:
        # prometheus_client picks where values live when first imported: this process
        # imported it before the variable was set, so its values are not in the files.
        log.warning("%s set after prometheus_client was imported; metrics stay per process",
                    MULTIPROCESS_VARIABLE)  # fmt: skip
        return None
    return directory


class _ServingModel:
    """complaint_triage_model_info{version}: the model this process serves, read at scrape."""

    def __init__(self, version: Callable[[], str | None]) -> None:
        self.version = version

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "complaint_triage_model_info",
            "The serving model (1 for its version).",
            labels=["version"],
        )
        version = self.version()
        if version is not None:
            family.add_metric([version], 1.0)
        yield family


class Metrics:
    """The metrics of one app, and their text exposition."""

    def __init__(self, version: Callable[[], str | None]) -> None:
        directory = multiprocess_directory()
        # In multiprocess mode the values go to files, which the exposition reads back.
        own = None if directory else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "complaint_triage_http_requests", "HTTP requests by method, route template and status.",
            ["method", "route", "status"], registry=own,
        )  # fmt: skip
        self.latency = Histogram(
            "complaint_triage_http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by route and status.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=own,
        )  # fmt: skip
        self.triages = Counter("complaint_triage_triages", "Complaints triaged.", registry=own)
        self.predictions = Counter(
            "complaint_triage_predictions", "Triages that routed a complaint to a department.",
            ["department"], registry=own,
        )  # fmt: skip
        self.escalations = Counter(
            "complaint_triage_escalations", "Triages that decided to escalate.", registry=own
        )
        self.needs_review = Counter(
            "complaint_triage_needs_review", "Triages flagged for an agent's review.", registry=own
        )
        self.exposed = CollectorRegistry(auto_describe=True)
        if directory:
            MultiProcessCollector(self.exposed, path=directory)  # type: ignore[no-untyped-call]
        else:
            assert own is not None
            self.exposed.register(_Everything(own))
        self.exposed.register(_ServingModel(version))
        # label values -> (counter, histogram) children: one dict lookup per request
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def track(self, service: TriageService) -> None:
        """Count every triage `service` finishes; departments start at 0, so they show."""
        for department in service.catalogue.ids:
            self.predictions.labels(department)
        service.listeners.append(self.observe_triage)

    def observe_triage(self, result: TriageResult) -> None:
        classification = result.classification
        self.triages.inc()
        for department in classification.departments:
            self.predictions.labels(department.id).inc()
        if classification.escalation.escalate:
            self.escalations.inc()
        if classification.needs_review:
            self.needs_review.inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = self._children[key] = (
                self.requests.labels(*labels), self.latency.labels(*labels)
            )  # fmt: skip
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.exposed)


class _Everything:
    """Forwards a registry's metrics into the exposition registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def flat_routes(app: object) -> list[Any]:
    """Every route of `app`, with included routers opened up, each knowing its full path."""
    routes: list[Any] = list(getattr(getattr(app, "router", None), "routes", ()))
    try:  # FastAPI versions that keep included routers whole list their routes through this
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return routes
    return list(iter_route_contexts(routes))


def route_template(scope: Scope, request: Scope, routes: Sequence[Any]) -> str:
    """The path template of the route that handled the request (/v1/triages/{triage_id}),
    never the raw path. Requests answered before routing (a 413 on Content-Length) and
    mounted files are matched against `routes` with `request`, the scope as it came in (a
    mount rewrites the scope's paths); a path no route matches is UNMATCHED."""
    template = getattr(scope.get("route"), "path_format", None)
    if template is None:
        for route in routes:
            if route.matches(request)[0] is not Match.NONE:
                template = getattr(route, "path_format", None)
                break
    return str(template) if template else UNMATCHED


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: no per-request task or body copy)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.routes: list[Any] | None = None  # read from the app on the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request = {"type": "http", "method": scope["method"], "path": scope["path"],
                   "root_path": scope.get("root_path", "")}  # fmt: skip
        status = 500  # what the client gets when the app raises before answering

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            if self.routes is None:
                self.routes = flat_routes(scope.get("app"))
            self.metrics.observe_request(
                scope["method"],
                route_template(scope, request, self.routes),
                status,
                time.perf_counter() - start,
            )


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus text format: requests by route and status, triages, predictions by
    department, escalations, needs-review, and the serving model. Needs no API key."""
    exposition: Metrics = request.app.state.metrics
    return Response(exposition.exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
