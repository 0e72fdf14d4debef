"""Seconds for N test-set complaints sent as one POST /v1/triage/batch against the same N as
single POST /v1/triage calls, through FastAPI's TestClient with the champion model and a
fresh SQLite database (every triage is stored either way). Rounds alternate so the
machine's noise falls on both alike; each figure is the best round.

    python bench/batch_vs_single.py [--items 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from classifier.api.app import create_app
from classifier.data import load_records
from classifier.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    texts = [r.text for r in load_records(settings.test_data)][: args.items]
    with tempfile.TemporaryDirectory() as directory:
        settings = settings.model_copy(
            update={
                "database_url": f"sqlite:///{Path(directory) / 'bench.db'}",
                "rate_limit": "1000000/second",
            }
        )
        with TestClient(create_app(settings)) as client:
            client.post("/v1/triage/batch", json={"items": [{"text": t} for t in texts[:20]]})
            batch, single = [], []
            for _ in range(args.rounds):
                start = time.perf_counter()
                response = client.post(
                    "/v1/triage/batch", json={"items": [{"text": t} for t in texts]}
                )
                assert response.status_code == 200 and response.json()["succeeded"] == len(texts)
                batch.append(time.perf_counter() - start)
                start = time.perf_counter()
                for text in texts:
                    assert client.post("/v1/triage", json={"text": text}).status_code == 200
                single.append(time.perf_counter() - start)
    fastest, one_by_one = min(batch), min(single)
    print(f"{'complaints':<12} {'one batch s':>12} {'single calls s':>15} {'ratio':>6}")
    print(f"{len(texts):<12} {fastest:>12.3f} {one_by_one:>15.3f} {one_by_one / fastest:>6.1f}")


if __name__ == "__main__":
    main()
