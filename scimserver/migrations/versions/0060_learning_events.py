"""Learning events, quarantined statements and EAP referrals.

Revision ID: 0060
Revises: 0050
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0060"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``learning_events``, ``learning_quarantine`` and ``referrals``."""
    op.create_table(
        "learning_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("statement_id", sa.String(64), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("module_id", sa.String(200), nullable=False),
        sa.Column("verb", sa.String(16), nullable=False),
        sa.Column("occurred", UtcDateTime(), nullable=False),
        sa.Column("received", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "uq_learning_events_statement",
        "learning_events",
        ["statement_id"],
        unique=True,
    )
    op.create_index(
        "ix_learning_events_module", "learning_events", ["module_id", "verb"]
    )
    op.create_index(
        "ix_learning_events_user", "learning_events", ["user_id", "module_id"]
    )
    op.create_table(
        "learning_quarantine",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("statement_id", sa.String(200)),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON()),
        sa.Column("received", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("consent_token", sa.String(100), nullable=False),
        sa.Column("module_id", sa.String(200)),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(120), nullable=False),
        sa.Column("rules_version", sa.String(64)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("updated", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime()),
        sa.Column("acknowledged_at", UtcDateTime()),
        sa.Column("contact_made_at", UtcDateTime()),
        sa.Column("follow_up_at", UtcDateTime()),
    )
    op.create_index(
        "ix_referrals_user", "referrals", ["user_id", "connector", "module_id"]
    )
    op.create_index("ix_referrals_state", "referrals", ["state"])


def downgrade() -> None:
    """Drop the learning event and referral tables."""
    op.drop_table("referrals")
    op.drop_table("learning_quarantine")
    op.drop_table("learning_events")
