"""SCIM push connector: downstream links and versioned attribute mappings.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``downstream_links`` and ``connector_mappings``."""
    op.create_table(
        "downstream_links",
        sa.Column("connector", sa.String(100), primary_key=True),
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("resource_id", sa.String(36), primary_key=True),
        sa.Column("downstream_id", sa.String(2048), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pushed_paths", sa.JSON(), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("updated", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_downstream_links_downstream",
        "downstream_links",
        ["connector", "resource_type", "downstream_id"],
    )
    op.create_table(
        "connector_mappings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("activated", UtcDateTime()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint(
            "connector", "version", name="uq_connector_mappings_version"
        ),
    )


def downgrade() -> None:
    """Drop the mapping versions and the downstream links."""
    op.drop_table("connector_mappings")
    op.drop_table("downstream_links")
