"""Trigram indexes for the substring filters on ``userName`` and ``displayName``.

RFC 7644 §3.4.2.2 ``co``, ``sw`` and ``ew`` become ``lower(column) LIKE '%x%'``,
which a B-tree cannot serve: every User row was read. On PostgreSQL a GIN index
with ``pg_trgm``'s operator class answers such patterns from the index (patterns
of three characters or more). SQLite has no such index; the migration does
nothing there.

``pg_trgm`` is a trusted extension (PostgreSQL 13 and later): the database
owner may create it. The index is built inside the migration's transaction,
which blocks writes to ``scim_resources`` while it runs (about a minute per
million Users).

Revision ID: 0050
Revises: 0040
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from scimserver.migrations.postgres_only import TRIGRAM_INDEXES

revision = "0050"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``pg_trgm`` and the GIN trigram indexes (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES.items():
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON scim_resources "
            f"USING gin (lower({column}) gin_trgm_ops)"
        )


def downgrade() -> None:
    """Drop the trigram indexes; the extension stays for other users of it."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
