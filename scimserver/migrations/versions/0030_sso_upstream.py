"""Upstream sign-in: outstanding login requests, used assertions, identity links.

Revision ID: 0030
Revises: 0021
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0030"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the login request, used assertion and identity link tables."""
    op.create_table(
        "sso_login_requests",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("idp_alias", sa.String(63), nullable=False),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("next_path", sa.String(2048), nullable=False),
        sa.Column("nonce", sa.String(128)),
        sa.Column("code_verifier", sa.String(128)),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_sso_login_requests_expires_at", "sso_login_requests", ["expires_at"]
    )
    op.create_table(
        "sso_used_assertions",
        sa.Column("issuer", sa.String(1024), primary_key=True),
        sa.Column("assertion_id", sa.String(256), primary_key=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_sso_used_assertions_expires_at", "sso_used_assertions", ["expires_at"]
    )
    op.create_table(
        "sso_identity_links",
        sa.Column("issuer", sa.String(1024), primary_key=True),
        sa.Column("subject", sa.String(1024), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("scim_resources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("matched_by", sa.String(16), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("last_login", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sso_identity_links_user_id", "sso_identity_links", ["user_id"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("sso_identity_links")
    op.drop_table("sso_used_assertions")
    op.drop_table("sso_login_requests")
