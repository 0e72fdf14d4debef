"""The Alembic migrations that create and upgrade the schema (`versions/`), and running them."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from classifier.engine import lock_file_beside

MIGRATIONS = Path(__file__).parent
# The newest migration's revision (a test checks it against the scripts): a database already
# there is not handed to Alembic, which keeps Alembic out of a normal start-up.
HEAD_REVISION = "0002"


def upgrade(engine: Engine) -> None:
    """Apply the migrations not yet applied (a no-op when up to date)."""
    if revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Several workers start at once: only one may migrate at a time, the others then find
    # the schema up to date.
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(1207316)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def revision(engine: Engine) -> str | None:
    """The schema's migration revision; None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(found) if found is not None else None


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock file beside a SQLite database file (PostgreSQL locks in SQL)."""
    path = lock_file_beside(engine, ".migrate-lock")
    if path is None:
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
