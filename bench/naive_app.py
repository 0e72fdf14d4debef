"""The naive service: a FastAPI endpoint that validates the same body as bench/bare_app.py and
calls a plain scikit-learn `Pipeline.predict_proba` on the text, nothing else (no evidence,
policy, drafts or storage). bench/load.py fits the pipeline once and names its pickle in
BENCH_NAIVE_PIPELINE; every worker loads it at start-up."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from bare_app import Complaint  # beside this file: uvicorn runs with --app-dir bench
from fastapi import FastAPI


def create_app() -> FastAPI:
    pipeline = pickle.loads(Path(os.environ["BENCH_NAIVE_PIPELINE"]).read_bytes())
    app = FastAPI()

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/triage")
    def triage(complaint: Complaint) -> dict[str, object]:
        probabilities = pipeline.predict_proba([complaint.text])[0]
        return {"case_ref": complaint.case_ref, "probabilities": [float(p) for p in probabilities]}

    return app
