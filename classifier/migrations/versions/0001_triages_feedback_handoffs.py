"""Triages, feedback and handoffs.

Revision ID: 0001
Revises:
Created: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from classifier.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_ref", sa.String(64), nullable=False, index=True),
        sa.Column("created", UTCDateTime(), nullable=False, index=True),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("escalate", sa.Boolean(), nullable=False, index=True),
        sa.Column("needs_review", sa.Boolean(), nullable=False, index=True),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "triage_id",
            sa.String(36),
            sa.ForeignKey("triages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(32), nullable=False, index=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("due", UTCDateTime(), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("sent_by", sa.String(120), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(120), nullable=True),
        sa.Column("acknowledgement_note", sa.Text(), nullable=True),
        sa.UniqueConstraint("triage_id", "department"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "triage_id",
            sa.String(36),
            sa.ForeignKey("triages.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("idempotency_key", sa.String(200), nullable=True, unique=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("escalate", sa.Boolean(), nullable=False),
        sa.Column("handoffs", sa.JSON(), nullable=True),
        sa.Column("customer_message", sa.JSON(), nullable=True),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("handoffs")
    op.drop_table("triages")
