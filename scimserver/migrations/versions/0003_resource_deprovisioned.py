"""When a soft DELETE deprovisioned a resource.

A plain ``ADD COLUMN``: a batch copy of ``scim_resources`` on SQLite would lose
its expression indexes and, with foreign keys on, cascade the drop of the old
table to the value index and the memberships.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scimserver.models import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``scim_resources.deprovisioned`` (NULL while provisioned)."""
    op.add_column("scim_resources", sa.Column("deprovisioned", UtcDateTime()))


def downgrade() -> None:
    """Drop ``scim_resources.deprovisioned``."""
    op.drop_column("scim_resources", "deprovisioned")
