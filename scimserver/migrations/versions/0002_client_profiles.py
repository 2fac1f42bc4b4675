"""Client compatibility profile, deprovisioning mode and JWT bearer trust.

Plain ``ADD COLUMN`` and ``DROP COLUMN`` (SQLite 3.35 and later) change the table
in place on both backends; a batch copy of the table is never needed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("profile", "deprovision", "jwt_issuer", "jwt_audience", "jwt_keys")


def upgrade() -> None:
    """Add the per-client settings; existing clients get the defaults."""
    op.add_column(
        "clients",
        sa.Column("profile", sa.String(16), nullable=False, server_default="standard"),
    )
    op.add_column(
        "clients",
        sa.Column("deprovision", sa.String(16), nullable=False, server_default="hard"),
    )
    op.add_column("clients", sa.Column("jwt_issuer", sa.String(2048)))
    op.add_column("clients", sa.Column("jwt_audience", sa.String(2048)))
    op.add_column("clients", sa.Column("jwt_keys", sa.JSON()))


def downgrade() -> None:
    """Drop the per-client settings."""
    for column in reversed(COLUMNS):
        op.drop_column("clients", column)
