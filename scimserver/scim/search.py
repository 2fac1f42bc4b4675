"""Queries over one resource type or, for a root ``/.search``, over all of them.

RFC 7644 §3.4.2: a filter at the root applies to every resource type; a type that
lacks an attribute named by the filter simply has no matches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, false, or_
from sqlalchemy.orm import Session

from scimserver.models import Resource
from scimserver.scim.cursors import Keyset, read_page
from scimserver.scim.errors import InvalidFilter, InvalidPath, WithheldFilter
from scimserver.scim.listing import ListQuery
from scimserver.scim.schema import ResourceType
from scimserver.scim.store import Page, search_resources, shows_groups

logger = logging.getLogger(__name__)

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


class QueryScope(Protocol):
    """Narrows a query to what one client may see (a release policy's view)."""

    def where(
        self, resource_type: ResourceType, filter_text: str | None
    ) -> ColumnElement[bool] | None:
        """The condition of ``filter_text`` for this client, checked and scoped."""
        ...


def run_query(
    session: Session,
    resource_types: Sequence[ResourceType],
    query: ListQuery,
    scope: QueryScope | None = None,
) -> Page:
    """Run ``query`` in SQL over the given resource types and return one page.

    ``scope`` checks the filter and narrows the result; without one, the query
    sees every resource (operator tools).
    """
    conditions, narrowed = _conditions(resource_types, query, scope)
    condition = or_(*conditions) if conditions else false()
    every_of = [] if narrowed else [rt.name for rt in resource_types]
    if query.cursor is not None:
        keyset = _keyset(resource_types, query, condition, every_of)
        return read_page(session, keyset, query.cursor)

    order_by = _order_by(resource_types, query)
    # Sorted by a value, the database may compute the groups of every match.
    with_groups = len(resource_types) == 1 and not query.sort_by
    return search_resources(
        session,
        condition,
        order_by,
        offset=query.start_index - 1,
        limit=query.count,
        every_of=every_of,
        with_groups=with_groups and shows_groups(resource_types[0]),
    )


def _conditions(
    resource_types: Sequence[ResourceType],
    query: ListQuery,
    scope: QueryScope | None,
) -> tuple[list[ColumnElement[bool]], bool]:
    """The condition per resource type, and whether any narrows its type.

    A type is not narrowed when neither a filter nor the client's scope (a
    cohort) leaves out any of its resources.
    """
    conditions: list[ColumnElement[bool]] = []
    narrowed = False
    first_error: InvalidFilter | None = None

    for resource_type in resource_types:
        try:
            where = (
                query.where(resource_type)
                if scope is None
                else scope.where(resource_type, query.filter)
            )
        except WithheldFilter:
            raise  # At the root too: skipping the type would hide the refusal.
        except InvalidFilter as error:
            if len(resource_types) == 1:
                raise
            first_error = first_error or error
            continue
        of_type = Resource.resource_type == resource_type.name
        conditions.append(of_type if where is None else and_(of_type, where))
        narrowed = narrowed or where is not None

    if not conditions and first_error is not None:
        raise first_error
    return conditions, narrowed or first_error is not None


def _order_by(
    resource_types: Sequence[ResourceType], query: ListQuery
) -> list[SQLColumnExpression[Any]]:
    if len(resource_types) == 1 or not query.sort_by:
        return query.order_by(resource_types[0]) if resource_types else []
    return query.ordering(_sort_key(resource_types, query))


def _keyset(
    resource_types: Sequence[ResourceType],
    query: ListQuery,
    condition: ColumnElement[bool],
    every_of: Sequence[str],
) -> Keyset:
    """RFC 9865: the cursor walk of ``query``; its cursors name types, filter, sort."""
    sort_by = (query.sort_by or "").lower()
    order = "descending" if query.descending else "ascending"
    types = ",".join(resource_type.name for resource_type in resource_types)
    return Keyset(
        scope=f"{types}|{query.filter or ''}|{sort_by}|{order}",
        condition=condition,
        sort_key=_sort_key(resource_types, query),
        descending=query.descending,
        count=query.count,
        every_of=tuple(every_of),
    )


def _sort_key(
    resource_types: Sequence[ResourceType], query: ListQuery
) -> SQLColumnExpression[Any]:
    """The value ``sortBy`` names; creation time without one."""
    if not query.sort_by or not resource_types:
        return Resource.created
    if len(resource_types) == 1:
        return query.sort_key(resource_types[0])

    keys = []
    for resource_type in resource_types:
        try:
            keys.append(
                (
                    Resource.resource_type == resource_type.name,
                    query.sort_key(resource_type),
                )
            )
        except InvalidPath:
            continue
    if not keys:
        raise InvalidPath(f"No resource type has the attribute '{query.sort_by}'.")
    return case(*keys)
