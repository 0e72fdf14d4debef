"""Shared fixtures. A tiny model is trained once per session; no test retrains per case."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from classifier import registry
from classifier.api.app import create_app
from classifier.catalogue import DEPARTMENT_IDS, Catalogue, load_catalogue
from classifier.data import Record, load_records
from classifier.evaluation import label_matrix
from classifier.model import TriageModel
from classifier.registry import ModelHolder
from classifier.settings import PROJECT_ROOT, Settings
from classifier.store import Store, make_engine
from classifier.triage import TriageService, build_service

TINY_SIZE = 300
# The PostgreSQL the store tests also run on; each test session works in its own schema.
POSTGRES_URL = os.environ.get(
    "CT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@functools.cache
def postgres_problem() -> str | None:
    """None when the test PostgreSQL answers, otherwise why not."""
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", said plainly
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def pytest_report_header() -> str:
    problem = postgres_problem()
    if problem is None:
        return f"PostgreSQL: answers at {POSTGRES_URL}; store tests run on SQLite and PostgreSQL"
    return (
        f"PostgreSQL: NOT reachable at {POSTGRES_URL} ({problem}); the PostgreSQL store tests "
        "will be SKIPPED. Start it or set CT_TEST_POSTGRES_URL."
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'store.db'}"
        return
    problem = postgres_problem()
    if problem is not None:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    schema = f"ct_test_{uuid.uuid4().hex[:12]}"
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def project_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the repository's own data and templates, and a private database."""
    database = tmp_path_factory.mktemp("var") / "triage.db"
    # Tests call fast and often from one address: rate limits get tests of their own.
    return Settings(  # type: ignore[call-arg]
        root=PROJECT_ROOT,
        database_url=f"sqlite:///{database}",
        rate_limit="100000/second",
        _env_file=None,
    )


@pytest.fixture(scope="session")
def catalogue(project_settings: Settings) -> Catalogue:
    return load_catalogue(project_settings.catalogue)


@pytest.fixture(scope="session")
def train_records(project_settings: Settings) -> list[Record]:
    return load_records(project_settings.training_data)


@pytest.fixture(scope="session")
def tiny_records(train_records: list[Record]) -> list[Record]:
    """Every third record, so the tiny set spans all industries and channels."""
    return train_records[::3][:TINY_SIZE]


@pytest.fixture(scope="session")
def tiny_model(tiny_records: list[Record]) -> TriageModel:
    model = TriageModel(cv=3, random_state=7)
    return model.fit([r.text for r in tiny_records], label_matrix(tiny_records, DEPARTMENT_IDS))


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model: TriageModel) -> registry.LoadedModel:
    return registry.LoadedModel("test-tiny", tiny_model, {"labels": list(DEPARTMENT_IDS)})


@pytest.fixture
def settings(tmp_path: Path, project_settings: Settings) -> Settings:
    """Project settings with a private, empty models directory and database."""
    return project_settings.model_copy(
        update={
            "models_dir": tmp_path / "models",
            "database_url": f"sqlite:///{tmp_path / 'var' / 'triage.db'}",
        }
    )


@pytest.fixture
def client(settings: Settings, tiny_loaded: registry.LoadedModel) -> Iterator[TestClient]:
    with TestClient(create_app(settings, model=tiny_loaded)) as test_client:
        yield test_client


@pytest.fixture
def api(
    settings: Settings, database_url: str, tiny_loaded: registry.LoadedModel
) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL (the `database_url` parameters)."""
    configured = settings.model_copy(update={"database_url": database_url})
    with TestClient(create_app(configured, model=tiny_loaded)) as test_client:
        yield test_client


@pytest.fixture
def models_dir_with_champion(tmp_path: Path, tiny_model: TriageModel) -> tuple[Path, str]:
    """A models directory holding one saved version that is champion."""
    models_dir = tmp_path / "models"
    version = "2026-01-01T00-00-00Z-abcdef"
    metadata = {"labels": list(DEPARTMENT_IDS), "created": "2026-01-01T00:00:00+00:00"}
    registry.save(models_dir, tiny_model, metadata, "# card\n", version)
    registry.set_champion(models_dir, version)
    return models_dir, version


@pytest.fixture(scope="session")
def service(
    project_settings: Settings, catalogue: Catalogue, tiny_loaded: registry.LoadedModel
) -> TriageService:
    """The triage service around the tiny model."""
    return build_service(project_settings, ModelHolder(tiny_loaded), catalogue)


def _streamed_json(kib: int) -> Iterator[bytes]:
    """A JSON body of about `kib` KiB sent in 1 KiB chunks, so no Content-Length is known."""
    yield b'{"text": "'
    for _ in range(kib):
        yield b"y" * 1024
    yield b'"}'


@pytest.fixture
def streamed_json() -> Callable[[int], Iterator[bytes]]:
    return _streamed_json
