"""The serving model's metadata."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from classifier.api.auth import GUARDED, require
from classifier.api.deps import HolderDep
from classifier.api.schemas import ModelInfo, RefusedModel
from classifier.reloader import ChampionReloader
from classifier.triage import ModelNotReady

router = APIRouter(
    prefix="/v1", tags=["models"], dependencies=[Depends(require(None))], responses=GUARDED
)


@router.get(
    "/model",
    response_model=ModelInfo,
    responses={503: {"description": "No verified model is loaded yet."}},
)
def serving_model(request: Request, holder: HolderDep) -> ModelInfo:
    """Version, thresholds, data fingerprints and test metrics of the serving model, and the
    champion on disk if it was refused."""
    loaded = holder.current
    if loaded is None:
        raise ModelNotReady("no verified model is loaded")
    reloader: ChampionReloader | None = getattr(request.app.state, "reloader", None)
    refused = reloader.refused if reloader else None
    return ModelInfo(
        version=loaded.version,
        metadata=loaded.metadata,
        refused=RefusedModel(version=refused.version, reason=refused.reason) if refused else None,
    )
