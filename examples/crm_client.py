"""A client a CRM integrator can copy: triage a complaint, send the agent's correction.

Standard library only (Python 3.11+), so it drops into any integration code base. It:
- sends the API key as `Authorization: Bearer <key>`;
- retries 429 (rate limited) and 503 (no model ready, database busy) and connection errors,
  waiting what `Retry-After` says, else an exponential backoff with jitter;
- sends feedback with an `Idempotency-Key` that stays the same across its retries, so a
  retried correction is stored once;
- raises `TriageError` with the server's problem+json `detail` for every other error.

    python examples/crm_client.py --url http://127.0.0.1:8000 --key "$CT_KEY" \\
        "I was charged twice for order 4471 and want my money back"
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

RETRIED = (429, 503)


class TriageError(RuntimeError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class TriageClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        attempts: int = 5,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self.sleep = sleep
        self.retries = 0  # how many times a call was retried, for the integrator's metrics

    def triage(self, text: str, **context: Any) -> dict[str, Any]:
        """Departments, escalation, handoff notes and the customer message for one complaint.
        `context`: case_ref, channel, customer={name, tier, previous_contacts}, amount={value,
        currency}."""
        result: dict[str, Any] = self._call("POST", "/v1/triage", {"text": text, **context})
        return result

    def triage_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Up to 500 complaints in one call; each slot is {"ok": true, "result": ...} or
        {"ok": false, "detail": ...}, in the order sent."""
        return list(self._call("POST", "/v1/triage/batch", {"items": items})["results"])

    def feedback(
        self,
        triage_id: str,
        departments: list[str],
        escalate: bool,
        author: str,
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The agent's correction. Keep the idempotency key with the correction in the CRM if
        it may be sent again later (after a crash, say): the server stores it once."""
        body = {"triage_id": triage_id, "departments": departments, "escalate": escalate,
                "author": author, **extra}  # fmt: skip
        key = idempotency_key or str(uuid.uuid4())
        stored: dict[str, Any] = self._call("POST", "/v1/feedback", body, {"Idempotency-Key": key})
        return stored

    def _call(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> Any:
        data = json.dumps(body).encode("utf-8")
        sent = {"Content-Type": "application/json", "Accept": "application/json",
                **(headers or {})}  # fmt: skip
        if self.api_key:
            sent["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(self.base_url + path, data, sent, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as error:
                detail = _detail(error)
                if error.code not in RETRIED or attempt == self.attempts:
                    raise TriageError(error.code, detail) from None
                wait = _retry_after(error.headers.get("Retry-After"))
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if attempt == self.attempts:
                    raise TriageError(0, f"cannot reach {self.base_url}: {error}") from None
                wait = None
            if wait is None:
                wait = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            self.retries += 1
            self.sleep(min(wait, self.max_wait))
        raise AssertionError("unreachable")


def _detail(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read().decode("utf-8")).get("detail", error.reason))
    except (ValueError, AttributeError):
        return str(error.reason)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


def main() -> int:
    parser = argparse.ArgumentParser(description="Triage one complaint with complaint-triage.")
    parser.add_argument("text", help="the complaint")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default=os.environ.get("CT_KEY"), help="API key ($CT_KEY)")
    parser.add_argument("--case-ref", help="the CRM's case reference")
    args = parser.parse_args()
    client = TriageClient(args.url, args.key)
    context = {"case_ref": args.case_ref} if args.case_ref else {}
    try:
        result = client.triage(args.text, **context)
    except TriageError as error:
        print(f"triage failed: {error}", file=sys.stderr)
        return 1
    departments = ", ".join(d["id"] for d in result["departments"]) or "none"
    print(f"case {result['case_ref']}: {departments}; escalate: "
          f"{result['escalation']['escalate']}")  # fmt: skip
    print(json.dumps(result["customer_message"], indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
