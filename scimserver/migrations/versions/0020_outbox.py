"""The transactional outbox: events, delivery attempts, scope members.

Revision ID: 0020
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0020"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``outbox_events``, ``outbox_attempts`` and ``outbox_scope_members``."""
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("finished", UtcDateTime()),
    )
    op.create_index(
        "ix_outbox_events_due", "outbox_events", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_outbox_events_resource",
        "outbox_events",
        ["connector", "resource_id", "id"],
    )
    op.create_index(
        "ix_outbox_events_finished", "outbox_events", ["status", "finished"]
    )
    op.create_table(
        "outbox_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("outbox_events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_outbox_attempts_event", "outbox_attempts", ["event_id", "attempt"]
    )
    op.create_table(
        "outbox_scope_members",
        sa.Column("connector", sa.String(100), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
    )


def downgrade() -> None:
    """Drop the outbox tables."""
    op.drop_table("outbox_scope_members")
    op.drop_table("outbox_attempts")
    op.drop_table("outbox_events")
