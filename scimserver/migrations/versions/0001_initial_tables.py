"""Resources, their value index, memberships, clients and tokens.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the first tables."""
    op.create_table(
        "scim_resources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(2048)),
        sa.Column("user_name", sa.String(2048)),
        sa.Column("display_name", sa.String(2048)),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("last_modified", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
    )
    op.create_index(
        "uq_scim_resources_user_name",
        "scim_resources",
        ["resource_type", sa.text("lower(user_name)")],
        unique=True,
    )
    op.create_index(
        "ix_scim_resources_display_name",
        "scim_resources",
        ["resource_type", sa.text("lower(display_name)")],
    )
    for column in ("external_id", "created", "last_modified"):
        op.create_index(
            f"ix_scim_resources_{column}", "scim_resources", ["resource_type", column]
        )

    op.create_table(
        "scim_resource_values",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "resource_id",
            sa.String(36),
            sa.ForeignKey("scim_resources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attribute", sa.String(512), nullable=False),
        sa.Column("sub_attribute", sa.String(128), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("text_value", sa.Text()),
        sa.Column("number_value", sa.Float()),
        sa.Column("bool_value", sa.Boolean()),
        sa.Column("time_value", UtcDateTime()),
    )
    op.create_index(
        "ix_scim_values_owner",
        "scim_resource_values",
        ["resource_id", "attribute", "sub_attribute"],
    )
    for kind in ("text", "number", "time"):
        op.create_index(
            f"ix_scim_values_{kind}",
            "scim_resource_values",
            ["attribute", "sub_attribute", f"{kind}_value"],
        )

    op.create_table(
        "scim_memberships",
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("scim_resources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "member_id",
            sa.String(36),
            sa.ForeignKey("scim_resources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("member_type", sa.String(64), nullable=False),
    )
    op.create_index("ix_scim_memberships_member", "scim_memberships", ["member_id"])

    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "client_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "client_id",
            sa.Integer(),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("revoked", UtcDateTime()),
    )


def downgrade() -> None:
    """Drop every table."""
    for table in (
        "client_tokens",
        "clients",
        "scim_memberships",
        "scim_resource_values",
        "scim_resources",
    ):
        op.drop_table(table)
