"""The serving model's metadata."""

from __future__ import annotations

from fastapi import APIRouter

from classifier.api.deps import HolderDep
from classifier.api.schemas import ModelInfo
from classifier.triage import ModelNotReady

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/model", response_model=ModelInfo)
def serving_model(holder: HolderDep) -> ModelInfo:
    """Version, thresholds, data fingerprints and test metrics of the serving model."""
    loaded = holder.current
    if loaded is None:
        raise ModelNotReady("no verified model is loaded")
    return ModelInfo(version=loaded.version, metadata=loaded.metadata)
