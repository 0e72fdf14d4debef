"""Stored triages, the agents' corrections and the handoffs' confirmations (SQLAlchemy 2).

One code path for SQLite (the embedded default, WAL and a busy timeout) and PostgreSQL
(`CT_DATABASE_URL`). The schema is created and upgraded by the Alembic migrations in
`classifier/migrations`. Callers get frozen dataclasses, never live ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, exists, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from classifier import migrations
from classifier.casework import (
    Correction,
    Feedback,
    Handoff,
    NewHandoff,
    NewTriage,
    StoredTriage,
    TrainingExample,
)
from classifier.checkpoints import Checkpointer
from classifier.engine import (
    DatabaseBusy,
    WriteTurns,
    busy_timeout,
    lock_file_beside,
    make_engine,
    sqlite_file,
    take_turn,
)
from classifier.tables import (
    FeedbackRow,
    HandoffRow,
    TriageRow,
    stored_feedback,
    stored_handoff,
    stored_triage,
)

# Callers import the data they exchange with the store from here too.
__all__ = [
    "Correction",
    "DatabaseBusy",
    "Feedback",
    "Handoff",
    "IdempotencyConflict",
    "NewHandoff",
    "NewTriage",
    "NotFound",
    "Store",
    "StoredTriage",
    "TrainingExample",
    "make_engine",
]


class NotFound(LookupError):
    """No triage or handoff with that id."""


class IdempotencyConflict(ValueError):
    """The idempotency key was used before with a different body."""


class Store:
    """Queries and updates on one database. Every method is one transaction."""

    def __init__(
        self, engine: Engine, busy_timeout: float = 2.0, checkpointer: Checkpointer | None = None
    ) -> None:
        self.engine = engine
        self.busy_timeout = busy_timeout
        self.checkpointer = checkpointer
        self._turn = (
            WriteTurns(busy_timeout, lock_file_beside(engine, ".write-lock"))
            if engine.dialect.name == "sqlite"
            else None
        )

    @property
    def embedded(self) -> bool:
        """SQLite: a write is work on a local file, never a wait on a network peer."""
        return self._turn is not None

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        busy_timeout: float = 2.0,
        background_checkpoints: bool = False,
    ) -> Store:
        """Connect to `url` and bring its schema up to date. A SQLite write waits up to
        `busy_timeout` seconds for another writer's lock, then raises DatabaseBusy. With
        `background_checkpoints`, a SQLite file's log is copied back by a thread of its own
        rather than inside commits (see `checkpoints`): for a server."""
        background = background_checkpoints and sqlite_file(url) is not None
        engine = make_engine(
            url, busy_timeout_ms=round(busy_timeout * 1000), autocheckpoint=not background
        )
        store = cls(engine, busy_timeout, Checkpointer(engine) if background else None)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Apply the Alembic migrations not yet applied (a no-op when up to date)."""
        migrations.upgrade(self.engine)

    def revision(self) -> str | None:
        """The schema's migration revision; None for an empty database."""
        return migrations.revision(self.engine)

    def ping(self) -> None:
        """Raise when the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()
        if self._turn is not None:
            self._turn.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with (
            take_turn(self._turn),
            Session(self.engine, expire_on_commit=False) as session,
        ):
            with session.begin():
                yield session
            self._wrote()

    @contextmanager
    def writing(self, patience: float | None = None) -> Iterator[Connection]:
        """A Core transaction, taking this process's turn on SQLite. `patience`, in seconds,
        bounds the wait for the database instead of the busy timeout."""
        with (
            take_turn(self._turn, patience),
            self.engine.connect() as connection,
            busy_timeout(connection, patience if self.embedded else None, self.busy_timeout),
        ):
            with connection.begin():
                yield connection
            self._wrote()

    def _wrote(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.wrote()

    # -- triages ---------------------------------------------------------------------------
    def save_triage(
        self,
        *,
        triage_id: str,
        case_ref: str,
        created: datetime,
        model_version: str,
        text: str,
        context: dict[str, Any],
        result: dict[str, Any],
        escalate: bool,
        needs_review: bool,
        handoffs: Sequence[NewHandoff],
    ) -> StoredTriage:
        """Store one triage (see `save_triages`) and return it as stored."""
        self.save_triages(
            [NewTriage(triage_id, case_ref, created, model_version, text, context, result,
                       escalate, needs_review, tuple(handoffs))]
        )  # fmt: skip
        return StoredTriage(
            triage_id, case_ref, created, model_version, text, context, result, escalate,
            needs_review,
            tuple(
                Handoff(h.id, triage_id, case_ref, h.department, h.subject, h.body, h.due,
                        "drafted", None, None, None, None, None)
                for h in handoffs
            ),
            (),
        )  # fmt: skip

    def save_triages(self, triages: Sequence[NewTriage], *, patience: float | None = None) -> None:
        """Store many triages and their handoffs in one transaction: all of them or none.
        `patience` bounds the wait for a locked database (see `writing`).
        Core inserts, not the ORM's unit of work: this runs on every triage, and the ORM's
        flush and read-back cost four times the inserts themselves."""
        triage_rows = [
            {"id": t.triage_id, "case_ref": t.case_ref, "created": t.created,
             "model_version": t.model_version, "text": t.text, "context": t.context,
             "result": t.result, "escalate": t.escalate, "needs_review": t.needs_review}
            for t in triages
        ]  # fmt: skip
        handoff_rows = [
            {"id": h.id, "triage_id": t.triage_id, "position": i, "department": h.department,
             "subject": h.subject, "body": h.body, "due": h.due, "status": "drafted"}
            for t in triages
            for i, h in enumerate(t.handoffs)
        ]  # fmt: skip
        with self.writing(patience) as connection:
            if triage_rows:
                connection.execute(insert(TriageRow), triage_rows)
            if handoff_rows:
                connection.execute(insert(HandoffRow), handoff_rows)

    def triage(self, triage_id: str) -> StoredTriage:
        with self._session() as session:
            row = session.get(TriageRow, triage_id)
            if row is None:
                raise NotFound(f"no triage with id {triage_id!r}")
            return stored_triage(row)

    def triages(
        self,
        *,
        department: str | None = None,
        escalated: bool | None = None,
        needs_review: bool | None = None,
        unacknowledged: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[StoredTriage]:
        """Recent triages, newest first, filtered by predicted department, escalation,
        needs-review and whether any of their handoffs awaits acknowledgement."""
        query = select(TriageRow).order_by(TriageRow.created.desc(), TriageRow.id)
        if department:
            query = query.where(
                exists().where(
                    HandoffRow.triage_id == TriageRow.id, HandoffRow.department == department
                )
            )
        if escalated is not None:
            query = query.where(TriageRow.escalate == escalated)
        if needs_review is not None:
            query = query.where(TriageRow.needs_review == needs_review)
        if unacknowledged is not None:
            waiting = exists().where(
                HandoffRow.triage_id == TriageRow.id, HandoffRow.status != "acknowledged"
            )
            query = query.where(waiting if unacknowledged else ~waiting)
        with self._session() as session:
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [stored_triage(r) for r in rows]

    # -- feedback --------------------------------------------------------------------------
    def add_feedback(
        self, triage_id: str, correction: Correction, *, now: datetime, key: str | None = None
    ) -> tuple[Feedback, bool]:
        """Store a correction. Returns it and whether it was stored now (False: the same
        key and body came before and the first result is returned).

        Raises NotFound for an unknown triage and IdempotencyConflict when `key` was used
        with a different body."""
        digest = correction.fingerprint(triage_id)
        if key is not None:
            earlier = self._feedback_by_key(key, digest)
            if earlier is not None:
                return earlier, False
        row = FeedbackRow(
            triage_id=triage_id, idempotency_key=key, body_sha256=digest,
            departments=list(correction.departments), escalate=correction.escalate,
            handoffs=correction.handoffs, customer_message=correction.customer_message,
            author=correction.author, comment=correction.comment, created=now,
        )  # fmt: skip
        try:
            with self._session() as session:
                if session.get(TriageRow, triage_id) is None:
                    raise NotFound(f"no triage with id {triage_id!r}")
                session.add(row)
                session.flush()
                return stored_feedback(row), True
        except IntegrityError:
            # Two requests with one key raced; the first one's commit won.
            earlier = self._feedback_by_key(key, digest) if key is not None else None
            if earlier is None:
                raise
            return earlier, False

    def _feedback_by_key(self, key: str, digest: str) -> Feedback | None:
        with self._session() as session:
            row = session.scalars(
                select(FeedbackRow).where(FeedbackRow.idempotency_key == key)
            ).first()
            if row is None:
                return None
            if row.body_sha256 != digest:
                raise IdempotencyConflict(
                    f"Idempotency-Key {key!r} was already used with a different body"
                )
            return stored_feedback(row)

    def training_examples(self) -> list[TrainingExample]:
        """Every corrected triage once, with its latest correction, oldest first."""
        with self._session() as session:
            rows = session.scalars(
                select(FeedbackRow).order_by(FeedbackRow.created, FeedbackRow.id)
            ).all()
            latest: dict[str, FeedbackRow] = {}
            for row in rows:
                latest[row.triage_id] = row
            examples = []
            for row in latest.values():
                triage = row.triage
                examples.append(
                    TrainingExample(
                        triage.id, triage.text, tuple(row.departments), row.escalate,
                        triage.context.get("channel"), row.created,
                    )
                )  # fmt: skip
            return examples

    # -- handoffs --------------------------------------------------------------------------
    def mark_sent(
        self,
        handoff_id: str,
        *,
        by: str,
        now: datetime,
        subject: str | None = None,
        body: str | None = None,
    ) -> Handoff:
        """Record that the note went to the department, with the agent's edits if any.
        Sending again keeps the first time; an acknowledged handoff stays acknowledged."""
        with self._session() as session:
            row = self._handoff_row(session, handoff_id)
            if subject is not None:
                row.subject = subject
            if body is not None:
                row.body = body
            if row.status == "drafted":
                row.status, row.sent_at, row.sent_by = "sent", now, by
            return stored_handoff(row, row.triage.case_ref)

    def acknowledge(
        self, handoff_id: str, *, by: str, now: datetime, note: str | None = None
    ) -> tuple[Handoff, bool]:
        """Record the department's confirmation. Idempotent: a second call changes nothing
        and returns the first acknowledgement with False."""
        with self._session() as session:
            row = self._handoff_row(session, handoff_id, lock=True)
            if row.status == "acknowledged":
                return stored_handoff(row, row.triage.case_ref), False
            if row.sent_at is None:
                row.sent_at = now  # the department has it, so it was sent
            row.status, row.acknowledged_at = "acknowledged", now
            row.acknowledged_by, row.acknowledgement_note = by, note
            return stored_handoff(row, row.triage.case_ref), True

    def handoff(self, handoff_id: str) -> Handoff:
        with self._session() as session:
            row = self._handoff_row(session, handoff_id)
            return stored_handoff(row, row.triage.case_ref)

    def handoffs(
        self,
        *,
        now: datetime,
        status: str | None = None,
        overdue: bool | None = None,
        department: str | None = None,
        limit: int = 200,
    ) -> list[Handoff]:
        """Handoffs by status, department and whether they are past their service level
        without an acknowledgement, most overdue first."""
        query = select(HandoffRow, TriageRow.case_ref).join(TriageRow).order_by(HandoffRow.due)
        if status is not None:
            query = query.where(HandoffRow.status == status)
        if department is not None:
            query = query.where(HandoffRow.department == department)
        if overdue is not None:
            late = (HandoffRow.due < now) & (HandoffRow.status != "acknowledged")
            query = query.where(late if overdue else ~late)
        with self._session() as session:
            return [stored_handoff(row, ref) for row, ref in session.execute(query.limit(limit))]

    @staticmethod
    def _handoff_row(session: Session, handoff_id: str, lock: bool = False) -> HandoffRow:
        query = select(HandoffRow).where(HandoffRow.id == handoff_id)
        row = session.scalars(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"no handoff with id {handoff_id!r}")
        return row
