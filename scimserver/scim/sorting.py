"""Sort keys for ``sortBy`` (RFC 7644 §3.4.2.3), read from columns or the index.

Strings that are not ``caseExact`` sort case-insensitively; all strings sort by
Unicode code point, with no locale, on every database. A multi-valued attribute
sorts by its primary value when one is marked, otherwise by its smallest value.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import Integer, SQLColumnExpression, cast, func, select
from sqlalchemy.orm import aliased

from scimserver.models import Resource, ResourceValue
from scimserver.scim.errors import InvalidPath, InvalidValue
from scimserver.scim.schema import Attribute, AttributePath, ResourceType
from scimserver.scim.value_index import (
    TEXT_TYPES,
    byte_order,
    column_for,
    index_key,
    is_unstored,
    membership_of,
    ordered,
    value_column,
)

logger = logging.getLogger(__name__)


def sort_key(resource_type: ResourceType, path: str) -> SQLColumnExpression[Any]:
    """Return the SQL value that ``sortBy=path`` orders resources by.

    The key is NULL for resources without a value: callers place those (last in
    ascending order, RFC 7644 §3.4.2.3) and add ``Resource.id`` to break ties.
    Raises :class:`InvalidValue` for paths that cannot be sorted by.
    """
    attribute_path = _sortable_path(resource_type, path)

    column = column_for(attribute_path)
    if column is not None:
        return _column_key(column, attribute_path.target)
    return _index_key(attribute_path)


def _sortable_path(resource_type: ResourceType, path: str) -> AttributePath:
    try:
        attribute_path = resource_type.resolve(path)
    except InvalidPath as error:
        raise InvalidValue(f"Cannot sort by '{path}': {error.detail}") from None

    attribute = attribute_path.attribute
    if attribute_path.sub_attribute is None and attribute.is_complex:
        default = attribute.sub_attribute("value")
        if default is None:
            raise InvalidValue(
                f"Cannot sort by complex '{attribute_path}': name a sub-attribute."
            )
        attribute_path = replace(attribute_path, sub_attribute=default)

    if membership_of(attribute_path) is not None or is_unstored(attribute_path):
        raise InvalidValue(f"Cannot sort by '{attribute_path}'.")
    return attribute_path


def _column_key(
    column: SQLColumnExpression[Any], attribute: Attribute
) -> SQLColumnExpression[Any]:
    if attribute.type in TEXT_TYPES and not attribute.case_exact:
        return byte_order(func.lower(column))
    return ordered(column, attribute)


def _index_key(path: AttributePath) -> SQLColumnExpression[Any]:
    """The primary value, else the smallest, as a correlated scalar subquery."""
    target = path.target
    key = index_key(path)
    sub_key = "" if path.sub_attribute is None else path.sub_attribute.name.lower()

    rows = aliased(ResourceValue)
    value = ordered(value_column(rows, target), target)
    if target.type == "boolean":
        # PostgreSQL has no min(boolean); false and true sort as 0 and 1.
        value = cast(value, Integer)
    values = select(func.min(value)).where(
        rows.resource_id == Resource.id,
        rows.attribute == key,
        rows.sub_attribute == sub_key,
    )
    smallest = values.scalar_subquery()

    attribute = path.attribute
    if not attribute.multi_valued or attribute.sub_attribute("primary") is None:
        return smallest

    flags = aliased(ResourceValue)
    primary_items = select(flags.item).where(
        flags.resource_id == rows.resource_id,
        flags.attribute == key,
        flags.sub_attribute == "primary",
        flags.bool_value.is_(True),
    )
    primary = values.where(rows.item.in_(primary_items)).scalar_subquery()
    return func.coalesce(primary, smallest)
