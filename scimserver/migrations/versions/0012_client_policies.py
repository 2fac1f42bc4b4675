"""Release policies on clients, their version history, and issued pseudonyms.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the policy columns and the ``client_policies`` and ``pseudonyms`` tables."""
    op.add_column("clients", sa.Column("policy", sa.JSON()))
    op.add_column("clients", sa.Column("policy_digest", sa.String(71)))
    op.create_table(
        "client_policies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "client_id",
            sa.Integer(),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("client_id", "version", name="uq_client_policies_version"),
    )
    op.create_table(
        "pseudonyms",
        sa.Column("sector", sa.String(100), primary_key=True),
        sa.Column("pseudonym", sa.String(40), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("scim_resources.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index(
        "uq_pseudonyms_user", "pseudonyms", ["sector", "user_id"], unique=True
    )
    op.create_index("ix_pseudonyms_user_id", "pseudonyms", ["user_id"])


def downgrade() -> None:
    """Drop the pseudonyms, the policy history and the policy columns."""
    op.drop_table("pseudonyms")
    op.drop_table("client_policies")
    op.drop_column("clients", "policy_digest")
    op.drop_column("clients", "policy")
