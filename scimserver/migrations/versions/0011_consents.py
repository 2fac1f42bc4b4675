"""The consent register: one row per consent, withdrawn ones kept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``consents`` table."""
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("scim_resources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("consent_token", sa.String(64), nullable=False, unique=True),
        sa.Column("notice_version", sa.String(64), nullable=False),
        sa.Column("granted_at", UtcDateTime(), nullable=False),
        sa.Column("withdrawn_at", UtcDateTime()),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("capture_method", sa.String(32), nullable=False),
        sa.Column("captured_by", sa.String(200), nullable=False),
        sa.Column("withdrawn_by", sa.String(200)),
        sa.Column("withdrawal_reason", sa.String(32)),
    )
    op.create_index("ix_consents_user", "consents", ["user_id", "purpose", "recipient"])


def downgrade() -> None:
    """Drop the ``consents`` table."""
    op.drop_table("consents")
