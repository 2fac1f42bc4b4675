"""Resource counts: one shard per server connection, and TRUNCATE resets them.

Migration 0080 counted in ``pg_backend_pid() % 1024``: two connections whose
process ids share that remainder shared a count row, waited for each other's
commit and could deadlock when both wrote Users and Groups in opposite orders.
The shard is now the whole process id, which no two live connections share, so
writers never meet on a count row. Rows of connections that have ended are
folded into shard 0 when a new connection opens
(:func:`scimserver.scim.count_shards.fold_at_connect`), so that their number
stays small.

A ``TRUNCATE`` of ``scim_resources`` fires no row or statement trigger of
0080; a TRUNCATE trigger now empties the counts with it. SQLite has one writer,
one shard and no TRUNCATE: nothing changes there.

Revision ID: 0081
Revises: 0080
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0081"
down_revision = "0080"
branch_labels = None
depends_on = None

TABLE = "scim_resource_counts"

COUNTING_FUNCTION = """
CREATE OR REPLACE FUNCTION scim_resources_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    own_shard integer := {shard};
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {table} (resource_type, shard, total)
        SELECT resource_type, own_shard, count(*) FROM arrived GROUP BY resource_type
        ON CONFLICT (resource_type, shard)
        DO UPDATE SET total = {table}.total + excluded.total;
    ELSE
        INSERT INTO {table} (resource_type, shard, total)
        SELECT resource_type, own_shard, -count(*) FROM departed GROUP BY resource_type
        ON CONFLICT (resource_type, shard)
        DO UPDATE SET total = {table}.total + excluded.total;
    END IF;
    RETURN NULL;
END
$$
"""

TRUNCATE_FUNCTION = f"""
CREATE FUNCTION scim_resources_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {TABLE};
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Count per connection; empty the counts when the resources are truncated."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(COUNTING_FUNCTION.format(shard="pg_backend_pid()", table=TABLE))
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        "CREATE TRIGGER scim_resources_counted_truncate AFTER TRUNCATE "
        "ON scim_resources FOR EACH STATEMENT "
        "EXECUTE FUNCTION scim_resources_truncated()"
    )


def downgrade() -> None:
    """Back to 1,024 shards shared by connections, without the TRUNCATE trigger."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DROP TRIGGER IF EXISTS scim_resources_counted_truncate ON scim_resources"
    )
    op.execute("DROP FUNCTION IF EXISTS scim_resources_truncated()")
    op.execute(COUNTING_FUNCTION.format(shard="pg_backend_pid() % 1024", table=TABLE))
