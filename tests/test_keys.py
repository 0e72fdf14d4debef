"""API keys: issued once and stored as a hash, scopes enforced, rate limits per key."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from limits import parse_many
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from classifier import registry
from classifier.api.app import create_app
from classifier.api.throttle import MovingWindows, RateLimited, Throttle
from classifier.cli import app as cli_app
from classifier.keys import KeyRing
from classifier.settings import Settings, get_settings
from classifier.store import Store
from tests.serving import running_server
from tests.test_api import assert_problem

runner = CliRunner()
COMPLAINT = {"text": "My parcel never arrived and the tracking has not moved for ten days."}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("CT_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_keys_create_prints_the_key_once_and_stores_only_its_hash(cli_database: str) -> None:
    created = runner.invoke(cli_app, ["keys", "create", "--name", "crm", "--scopes",
                                      "feedback,triage"])  # fmt: skip
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    prefix, key_id, secret = key.split("_", 2)
    assert prefix == "ct" and len(secret) >= 40
    engine = create_engine(cli_database)
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(text("SELECT * FROM api_keys"))]
    engine.dispose()
    assert len(rows) == 1
    assert rows[0]["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in rows[0].values())

    listed = runner.invoke(cli_app, ["keys", "list"])
    assert listed.exit_code == 0
    assert key_id in listed.stdout and "crm" in listed.stdout
    assert "triage,feedback" in listed.stdout and secret not in listed.output
    as_json = [json.loads(line) for line in runner.invoke(cli_app, ["keys", "list", "--json"])
               .stdout.splitlines()]  # fmt: skip
    assert as_json == [{"id": key_id, "name": "crm", "scopes": ["triage", "feedback"],
                        "created": as_json[0]["created"], "revoked": None}]  # fmt: skip

    revoked = runner.invoke(cli_app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0 and f"revoked {key_id} (crm)" in revoked.stdout
    again = json.loads(runner.invoke(cli_app, ["keys", "list", "--json"]).stdout)
    assert again["revoked"] is not None


def test_keys_commands_explain_mistakes(cli_database: str) -> None:
    bad_scope = runner.invoke(cli_app, ["keys", "create", "--name", "x", "--scopes", "root"])
    assert bad_scope.exit_code == 1
    assert "unknown scope root: use triage, feedback, admin" in bad_scope.output
    unknown = runner.invoke(cli_app, ["keys", "revoke", "nope"])
    assert unknown.exit_code == 1 and "no key with id 'nope'" in unknown.output


@pytest.fixture
def guarded(settings: Settings, tiny_loaded: registry.LoadedModel) -> Iterator[TestClient]:
    strict = settings.model_copy(update={"require_keys": True})
    with TestClient(create_app(strict, model=tiny_loaded)) as test_client:
        yield test_client


def _issue(client: TestClient, *scopes: str) -> str:
    ring: KeyRing = client.app.state.gate.keys  # type: ignore[attr-defined]
    return ring.create("-".join(scopes), scopes, datetime.now(UTC))[1]


def test_no_key_or_a_bad_key_is_401_problem_json(guarded: TestClient) -> None:
    missing = guarded.post("/v1/triage", json=COMPLAINT)
    assert_problem(missing, 401, "an API key is required")
    assert missing.headers["www-authenticate"] == "Bearer"
    for bad in ("nonsense", "ct_abc_def", _issue(guarded, "triage")[:-2] + "xx"):
        assert_problem(guarded.post("/v1/triage", json=COMPLAINT, headers=_bearer(bad)), 401,
                       "the API key is not valid")  # fmt: skip
    assert guarded.get("/livez").status_code == 200  # health needs no key


def test_scopes_decide_what_a_key_may_call(guarded: TestClient) -> None:
    triage_only = _issue(guarded, "triage")
    answered = guarded.post("/v1/triage", json=COMPLAINT, headers={"X-API-Key": triage_only})
    assert answered.status_code == 200 and answered.json()["departments"]
    triage_id = answered.json()["triage_id"]
    correction = {"triage_id": triage_id, "departments": ["logistics_operations"],
                  "escalate": False, "author": "agent-7"}  # fmt: skip
    denied = guarded.post("/v1/feedback", json=correction, headers=_bearer(triage_only))
    body = assert_problem(denied, 403, "lacks the 'feedback' scope")
    assert "it has triage" in body["detail"]
    assert_problem(guarded.get("/v1/keys", headers=_bearer(triage_only)), 403, "'admin'")
    both = _issue(guarded, "triage", "feedback")
    stored = guarded.post("/v1/feedback", json=correction, headers=_bearer(both))
    assert stored.status_code == 201 and stored.json()["departments"] == ["logistics_operations"]


def test_admin_endpoints_issue_list_and_revoke_keys(guarded: TestClient) -> None:
    admin = _bearer(_issue(guarded, "admin"))
    issued = guarded.post("/v1/keys", json={"name": "crm", "scopes": ["triage"]}, headers=admin)
    assert issued.status_code == 201
    new_key, key_id = issued.json()["key"], issued.json()["id"]
    assert guarded.post("/v1/triage", json=COMPLAINT, headers=_bearer(new_key)).status_code == 200
    listed = guarded.get("/v1/keys", headers=admin).json()
    assert [k["name"] for k in listed] == ["admin", "crm"]
    assert all("key" not in k for k in listed)
    revoked = guarded.delete(f"/v1/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked"]
    assert_problem(guarded.post("/v1/triage", json=COMPLAINT, headers=_bearer(new_key)), 401,
                   "revoked")  # fmt: skip
    assert_problem(guarded.delete("/v1/keys/unknown", headers=admin), 404, "no key with id")
    bad = guarded.post("/v1/keys", json={"name": "x", "scopes": ["root"]}, headers=admin)
    assert_problem(bad, 422, "scopes.0")


def test_keys_are_optional_on_loopback_and_required_elsewhere(
    settings: Settings, tiny_loaded: registry.LoadedModel
) -> None:
    with TestClient(create_app(settings, model=tiny_loaded)) as loopback:
        assert loopback.post("/v1/triage", json=COMPLAINT).status_code == 200
    exposed = settings.model_copy(update={"host": "0.0.0.0"})
    with TestClient(create_app(exposed, model=tiny_loaded)) as network:
        assert_problem(network.post("/v1/triage", json=COMPLAINT), 401, "API key is required")


def test_rate_limit_is_per_key_and_answers_429_with_retry_after(
    settings: Settings, tiny_loaded: registry.LoadedModel
) -> None:
    limited = settings.model_copy(update={"require_keys": True, "rate_limit": "3/minute"})
    with TestClient(create_app(limited, model=tiny_loaded)) as client:
        first, second = _issue(client, "triage"), _issue(client, "triage")
        statuses = [client.get("/v1/model", headers=_bearer(first)).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = client.get("/v1/model", headers=_bearer(first))
        assert_problem(refused, 429, "rate limit of 3 per 1 minute exceeded")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert client.get("/v1/model", headers=_bearer(second)).status_code == 200


@pytest.mark.slow
def test_a_server_bound_beyond_loopback_asks_for_a_key(
    tmp_path: Path, models_dir_with_champion: tuple[Path, str]
) -> None:
    models_dir, _ = models_dir_with_champion
    with running_server(tmp_path, models_dir, host="0.0.0.0") as server:
        refused = httpx.post(server.base + "/v1/triage", json=COMPLAINT, timeout=10)
        assert_problem(refused, 401, "an API key is required")
        store = Store.open(f"sqlite:///{tmp_path / 'triage.db'}")
        key = KeyRing(store.engine).create("crm", ["triage"], datetime.now(UTC))[1]
        store.close()
        answered = httpx.post(server.base + "/v1/triage", json=COMPLAINT, headers=_bearer(key),
                              timeout=10)  # fmt: skip
        assert answered.status_code == 200 and answered.json()["departments"]


def test_redis_storage_shares_the_counters_between_workers() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis answers at 127.0.0.1:6379")
    # Two Throttles stand for two worker processes sharing one Redis.
    first = Throttle("3/minute", "redis://127.0.0.1:6379")
    second = Throttle("3/minute", "redis://127.0.0.1:6379")
    who = f"key:test-{uuid.uuid4().hex}"
    first.check(who)
    second.check(who)
    first.check(who)
    with pytest.raises(RateLimited) as refused:
        second.check(who)
    assert 1 <= refused.value.retry_after <= 60


def test_memory_windows_move_and_say_when_the_next_request_may_go() -> None:
    now = [100.0]
    windows = MovingWindows(clock=lambda: now[0])
    (three_a_minute,) = parse_many("3/minute")
    for moment in (100.0, 110.0, 130.0):
        now[0] = moment
        assert windows.hit(three_a_minute, "key:a") is None
    now[0] = 150.0
    # the oldest of the three leaves the window at 160
    assert windows.hit(three_a_minute, "key:a") == pytest.approx(10.0)
    assert windows.hit(three_a_minute, "key:b") is None  # another caller counts apart
    now[0] = 160.5
    assert windows.hit(three_a_minute, "key:a") is None
    assert windows.hit(three_a_minute, "key:a") == pytest.approx(110.0 + 60 - 160.5)


def test_memory_windows_forget_callers_gone_quiet() -> None:
    now = [0.0]
    windows = MovingWindows(clock=lambda: now[0])
    (per_second,) = parse_many("5/second")
    for n in range(10_000):
        windows.hit(per_second, f"addr:{n}")
    now[0] = 2.0
    windows.hit(per_second, "addr:new")
    assert len(windows._times) == 1


def test_memory_windows_do_not_sweep_active_callers_at_every_new_one() -> None:
    now = [0.0]
    windows = MovingWindows(clock=lambda: now[0])
    (per_minute,) = parse_many("5/minute")
    for n in range(10_001):  # all still inside their window: none can be dropped
        windows.hit(per_minute, f"addr:{n}")
    assert len(windows._times) == 10_001
    swept = windows._sweep_at
    assert swept >= 20_000  # the next sweep waits until as many again have come
    windows.hit(per_minute, "addr:another")
    assert windows._sweep_at == swept and len(windows._times) == 10_002
