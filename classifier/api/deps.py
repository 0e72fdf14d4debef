"""Dependencies shared by the routes; tests replace them with app.dependency_overrides.

They are coroutines though they do not wait: FastAPI runs a plain function dependency in its
thread pool, a hop per dependency per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from classifier.registry import ModelHolder
from classifier.reloader import ChampionReloader
from classifier.store import Store
from classifier.triage import TriageService


async def get_service(request: Request) -> TriageService:
    service: TriageService = request.app.state.service
    return service


async def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def not_ready_reason(request: Request) -> str | None:
    """Why the champion on disk is not being served (refused, or none), if the app follows it."""
    reloader: ChampionReloader | None = getattr(request.app.state, "reloader", None)
    return reloader.problem if reloader else None


ServiceDep = Annotated[TriageService, Depends(get_service)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
StoreDep = Annotated[Store, Depends(get_store)]
