"""Retention and erasure: deleting old triages, and everything about one case on request.

A triage's handoffs and feedback (the agents' corrections and edited drafts) are deleted
with it. The deletes name the children explicitly instead of leaning on the ORM's cascade;
the foreign keys' ON DELETE CASCADE (enforced on SQLite by `PRAGMA foreign_keys=ON`) is the
backstop for a row added between the two statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Select, delete, func, select

from classifier.store import Store
from classifier.tables import Base, FeedbackRow, HandoffRow, TriageRow

# Triages deleted per transaction: SQLite holds its single write lock for the whole of one,
# so a large purge is many short transactions that let requests write in between.
BATCH_SIZE = 500

_TRIAGES = Base.metadata.tables[TriageRow.__tablename__]
_HANDOFFS = Base.metadata.tables[HandoffRow.__tablename__]
_FEEDBACK = Base.metadata.tables[FeedbackRow.__tablename__]


@dataclass(frozen=True)
class Removal:
    """What was (or, in a dry run, would be) deleted."""

    triages: int = 0
    handoffs: int = 0
    feedback: int = 0
    triage_ids: tuple[str, ...] = ()  # filled by erasure only: a purge can reach millions

    def __add__(self, other: Removal) -> Removal:
        return Removal(
            self.triages + other.triages,
            self.handoffs + other.handoffs,
            self.feedback + other.feedback,
            self.triage_ids + other.triage_ids,
        )


def _count(connection: Connection, where: ColumnElement[bool]) -> Removal:
    chosen = select(_TRIAGES.c.id).where(where).scalar_subquery()

    def rows(query: Select[tuple[int]]) -> int:
        return int(connection.scalar(query) or 0)

    return Removal(
        rows(select(func.count()).select_from(_TRIAGES).where(where)),
        rows(select(func.count()).select_from(_HANDOFFS).where(_HANDOFFS.c.triage_id.in_(chosen))),
        rows(select(func.count()).select_from(_FEEDBACK).where(_FEEDBACK.c.triage_id.in_(chosen))),
    )


def _delete(connection: Connection, ids: Sequence[str]) -> Removal:
    feedback = connection.execute(delete(_FEEDBACK).where(_FEEDBACK.c.triage_id.in_(ids)))
    handoffs = connection.execute(delete(_HANDOFFS).where(_HANDOFFS.c.triage_id.in_(ids)))
    triages = connection.execute(delete(_TRIAGES).where(_TRIAGES.c.id.in_(ids)))
    return Removal(triages.rowcount, handoffs.rowcount, feedback.rowcount)


def _batch(connection: Connection, where: ColumnElement[bool], size: int) -> list[str]:
    """The next `size` triage ids matching `where`, oldest first, locked where the database
    can (PostgreSQL), so a concurrent correction waits instead of racing the delete."""
    query = select(_TRIAGES.c.id).where(where).order_by(_TRIAGES.c.created, _TRIAGES.c.id)
    query = query.limit(size)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return list(connection.scalars(query))


def _remove(
    store: Store, where: ColumnElement[bool], *, dry_run: bool, keep_ids: bool, batch: int
) -> Removal:
    if dry_run:
        with store.engine.connect() as connection:
            counted = _count(connection, where)
            if keep_ids:
                order = (_TRIAGES.c.created, _TRIAGES.c.id)
                named = connection.scalars(select(_TRIAGES.c.id).where(where).order_by(*order))
                counted += Removal(triage_ids=tuple(named))
            return counted
    total = Removal()
    while True:
        with store.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # Zero the deleted rows' bytes in the file instead of leaving them in free
                # pages (the default of some SQLite builds only).
                connection.exec_driver_sql("PRAGMA secure_delete=ON")
            ids = _batch(connection, where, batch)
            if not ids:
                return total
            total += _delete(connection, ids)
        if keep_ids:
            total += Removal(triage_ids=tuple(ids))


def purge(
    store: Store, *, before: datetime, dry_run: bool = False, batch: int = BATCH_SIZE
) -> Removal:
    """Delete the triages created before `before` (an aware time) with their handoffs and
    feedback, `batch` triages per transaction; with `dry_run`, only count them."""
    if before.tzinfo is None:
        raise ValueError("`before` must be an aware datetime")
    where = _TRIAGES.c.created < before
    return _remove(store, where, dry_run=dry_run, keep_ids=False, batch=batch)


def erase_case(
    store: Store, case_ref: str, *, dry_run: bool = False, batch: int = BATCH_SIZE
) -> Removal:
    """Delete every triage stored under `case_ref`, with their handoffs and feedback, and
    name the triages. Erasing a case that is not there (again) removes nothing."""
    where = _TRIAGES.c.case_ref == case_ref
    return _remove(store, where, dry_run=dry_run, keep_ids=True, batch=batch)
