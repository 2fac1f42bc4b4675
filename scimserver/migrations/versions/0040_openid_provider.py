"""The OpenID Provider: relying parties, authorization codes, tokens, signing keys.

Revision ID: 0040
Revises: 0030
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0040"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the four ``oidc_*`` tables."""
    op.create_table(
        "oidc_relying_parties",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(100), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("auth_method", sa.String(32), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("sector", sa.String(100), nullable=False),
        sa.Column(
            "scim_client_id",
            sa.Integer(),
            sa.ForeignKey("clients.id", ondelete="RESTRICT"),
        ),
        sa.Column("policy", sa.JSON()),
        sa.Column("consent_purpose", sa.String(100)),
        sa.Column("consent_recipient", sa.String(200)),
        sa.Column("launch_url", sa.String(2048)),
        sa.Column("initiate_login_uri", sa.String(2048)),
        sa.Column("created", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "oidc_authorization_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        _relying_party_column(),
        _user_column(nullable=False),
        sa.Column("redirect_uri", sa.String(2048), nullable=False),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("nonce", sa.String(512)),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(8), nullable=False),
        sa.Column("auth_time", sa.Integer(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime()),
    )
    op.create_index(
        "ix_oidc_codes_nonce", "oidc_authorization_codes", ["relying_party_id", "nonce"]
    )
    op.create_index(
        "ix_oidc_codes_expires_at", "oidc_authorization_codes", ["expires_at"]
    )
    op.create_table(
        "oidc_access_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _relying_party_column(),
        _user_column(nullable=True),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("auth_time", sa.Integer()),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime()),
        sa.Column("code_hash", sa.String(64)),
    )
    op.create_index("ix_oidc_tokens_code_hash", "oidc_access_tokens", ["code_hash"])
    op.create_index("ix_oidc_tokens_expires_at", "oidc_access_tokens", ["expires_at"])
    op.create_table(
        "oidc_signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("generation", sa.Integer(), nullable=False, unique=True),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("retired_at", UtcDateTime()),
    )


def downgrade() -> None:
    """Drop the ``oidc_*`` tables."""
    op.drop_table("oidc_signing_keys")
    op.drop_table("oidc_access_tokens")
    op.drop_table("oidc_authorization_codes")
    op.drop_table("oidc_relying_parties")


def _relying_party_column() -> sa.Column[int]:
    return sa.Column(
        "relying_party_id",
        sa.Integer(),
        sa.ForeignKey("oidc_relying_parties.id", ondelete="CASCADE"),
        nullable=False,
    )


def _user_column(*, nullable: bool) -> sa.Column[str]:
    return sa.Column(
        "user_id",
        sa.String(36),
        sa.ForeignKey("scim_resources.id", ondelete="CASCADE"),
        nullable=nullable,
    )
