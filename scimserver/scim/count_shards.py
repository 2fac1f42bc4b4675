"""Folding the resource counts of ended server connections into one row.

On PostgreSQL each connection counts the resources it creates and deletes in a
row of its own (migration 0081), so that concurrent writers never wait for each
other on a count. Rows of connections that have ended stay until folded: every
new connection of a server or worker folds them first (a pool opens few), so a
list's ``totalResults`` sums about one row per live connection, not one per
connection ever opened.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

logger = logging.getLogger(__name__)

#: Shard 0 holds the folded counts; live connections count under their own
#: process id, which is never 0. Rows locked by a writer are skipped, so that
#: folding never waits for, or deadlocks with, a request.
FOLD_ENDED_SHARDS = """
    WITH ended AS (
        SELECT resource_type, shard FROM scim_resource_counts AS kept
        WHERE shard <> 0
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = kept.shard)
        FOR UPDATE SKIP LOCKED
    ), folded AS (
        DELETE FROM scim_resource_counts AS kept USING ended
        WHERE kept.resource_type = ended.resource_type AND kept.shard = ended.shard
        RETURNING kept.resource_type, kept.total
    )
    INSERT INTO scim_resource_counts (resource_type, shard, total)
    SELECT resource_type, 0, sum(total) FROM folded
    GROUP BY resource_type ORDER BY resource_type
    ON CONFLICT (resource_type, shard)
    DO UPDATE SET total = scim_resource_counts.total + excluded.total
    RETURNING resource_type
"""


def fold_at_connect(dbapi_connection: Any, _record: Any) -> None:
    """A new PostgreSQL connection folds the counts of ended ones, then commits.

    A database not yet migrated has no count table: nothing is folded, and the
    connection is left as it came.
    """
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(FOLD_ENDED_SHARDS)
            folded = cursor.rowcount
        dbapi_connection.commit()
    except psycopg.Error as error:
        dbapi_connection.rollback()
        logger.debug("resource counts not folded error=%s", type(error).__name__)
        return
    if folded:
        logger.info("resource counts folded resource_types=%d", folded)
