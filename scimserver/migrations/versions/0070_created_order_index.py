"""Resources in creation order straight from an index, ties broken by id.

Lists are ordered by ``created, id``. The index on ``(resource_type, created)``
left ties to a sort of every row sharing a timestamp, which a Bulk import or a
seeded directory makes common: the whole batch was read to return one page.

Revision ID: 0070
Revises: 0060
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0070"
down_revision = "0060"
branch_labels = None
depends_on = None

TABLE = "scim_resources"
OLD = "ix_scim_resources_created"
NEW = "ix_scim_resources_created_id"


def upgrade() -> None:
    """Replace the creation-time index by one that also orders by id."""
    op.create_index(NEW, TABLE, ["resource_type", "created", "id"])
    op.drop_index(OLD, table_name=TABLE)


def downgrade() -> None:
    """Bring back the index on ``(resource_type, created)`` alone."""
    op.create_index(OLD, TABLE, ["resource_type", "created"])
    op.drop_index(NEW, table_name=TABLE)
