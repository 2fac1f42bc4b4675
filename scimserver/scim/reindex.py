"""Rebuilding the value index of stored resources from their documents.

Writes keep a resource's value rows (:mod:`.value_index`) in step with its
document, and PUT and PATCH rewrite only the rows of attributes that changed.
A release that indexes more (or differently) leaves the rows of resources
written before it as they were: ``scimserver db reindex`` rebuilds them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scimserver.models import Resource, ResourceValue
from scimserver.scim.schema import ResourceType
from scimserver.scim.store_statements import VALUE_ROWS
from scimserver.scim.value_index import index_values

logger = logging.getLogger(__name__)


def reindex(
    session: Session, resource_types: list[ResourceType], batch: int = 500
) -> Iterator[int]:
    """Rebuild the value rows of every resource, committing each batch.

    Yields the number of resources rebuilt per batch. Each batch locks its
    resources (on PostgreSQL) while it rewrites their rows, so that a
    concurrent write waits rather than interleaves.
    """
    types = {resource_type.name: resource_type for resource_type in resource_types}
    last_id = ""
    while True:
        query = (
            select(Resource.id, Resource.resource_type, Resource.attributes)
            .where(Resource.id > last_id, Resource.resource_type.in_(types))
            .order_by(Resource.id)
            .limit(batch)
            .with_for_update()
        )
        found = session.execute(query).all()
        if not found:
            return

        ids = [resource_id for resource_id, _type, _document in found]
        session.execute(delete(ResourceValue).where(ResourceValue.resource_id.in_(ids)))
        rows = [
            {**row, "resource_id": resource_id}
            for resource_id, type_name, document in found
            for row in index_values(types[type_name], document)
        ]
        if rows:
            session.execute(VALUE_ROWS.insert(), rows)
        session.commit()

        last_id = ids[-1]
        logger.info("value index rebuilt count=%d last_id=%s", len(ids), last_id)
        yield len(ids)
