"""The FastAPI application factory. The model is loaded in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from classifier import __version__
from classifier.api import batch, cases, feedback, handoffs, health, keys, metrics, models, triage
from classifier.api.auth import Gate
from classifier.api.errors import BodyLimitMiddleware, NulRefusalMiddleware, install_error_handlers
from classifier.api.metrics import Metrics, MetricsMiddleware
from classifier.api.openapi import document_problems
from classifier.api.request_id import RequestIdApp
from classifier.api.throttle import Throttle
from classifier.catalogue import load_catalogue
from classifier.keys import KeyRing
from classifier.registry import LoadedModel, ModelHolder
from classifier.reloader import ChampionReloader, freeze_heap
from classifier.settings import Settings, get_settings
from classifier.store import Store
from classifier.triage import build_service
from classifier.web import access as web_access
from classifier.web import router as web_router
from classifier.writer import TriageWriter

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, model: LoadedModel | None = None) -> FastAPI:
    """Build the app. `model`, when given, is served instead of the champion on disk, and
    the champion is not followed."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalogue = load_catalogue(settings.catalogue)
        holder = ModelHolder(model)
        store = Store.open(
            settings.database_url,
            busy_timeout=settings.database_busy_timeout,
            background_checkpoints=True,
        )
        reloader = ChampionReloader(settings.models_dir, catalogue.ids, holder)
        app.state.settings = settings
        app.state.holder = holder
        app.state.store = store
        app.state.reloader = reloader
        app.state.gate = Gate(
            settings,
            KeyRing(store.engine),
            Throttle(settings.rate_limit, settings.rate_limit_storage),
        )
        writer = TriageWriter(store)
        app.state.service = build_service(settings, holder, catalogue, store, writer)
        app.state.metrics.track(app.state.service)
        following = None
        if model is None:  # a model handed in is served as it is; otherwise the champion
            reloader.check()
            if holder.current is None:
                log.error("no model loaded: %s", reloader.problem)
            else:
                log.info("serving model %s", holder.current.version)
            following = asyncio.create_task(reloader.follow(settings.reload_interval))
            freeze_heap()  # a long-running server (test apps, handed a model, skip it)
        yield
        if following is not None:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        writer.close()  # what requests handed over is stored before the store closes
        store.close()

    app = RequestIdApp(  # FastAPI with X-Request-ID and the access line outermost
        title="complaint-triage",
        version=__version__,
        summary="Departments, escalation and drafted handoffs for customer complaints.",
        lifespan=lifespan,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        paths={"/v1/triage/batch": settings.max_batch_body_bytes},
    )
    app.add_middleware(NulRefusalMiddleware)
    # Added last, so it is outermost: it also times and counts the 413s answered above.
    app.state.metrics = Metrics(lambda: _serving_version(app))
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    install_error_handlers(app)
    web_access.install(app)
    document_problems(app)
    app.include_router(triage.router)
    app.include_router(batch.router)
    app.include_router(feedback.router)
    app.include_router(handoffs.router)
    app.include_router(models.router)
    app.include_router(keys.router)
    app.include_router(health.router)
    app.include_router(cases.router)
    app.include_router(metrics.router)
    app.include_router(web_router)
    return app


def _serving_version(app: FastAPI) -> str | None:
    holder: ModelHolder | None = getattr(app.state, "holder", None)
    loaded = holder.current if holder else None
    return loaded.version if loaded else None
