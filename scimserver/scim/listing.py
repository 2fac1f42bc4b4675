"""List requests: filter, sort, index paging (RFC 7644 §3.4.2) and cursors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression

from scimserver.config import Settings
from scimserver.models import Resource
from scimserver.scim.cursors import CursorRequest
from scimserver.scim.errors import InvalidValue
from scimserver.scim.filter import filter_clause
from scimserver.scim.schema import ResourceType
from scimserver.scim.sorting import sort_key

SORT_ORDERS = ("ascending", "descending")


@dataclass(frozen=True)
class ListQuery:
    """The parameters of one list request, validated."""

    filter: str | None
    sort_by: str | None
    descending: bool
    start_index: int
    count: int
    attributes: tuple[str, ...]
    excluded_attributes: tuple[str, ...]
    #: RFC 9865: set when the request pages by cursor rather than by index.
    cursor: CursorRequest | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], settings: Settings) -> ListQuery:
        """Read a query from URL parameters (or a ``.search`` body)."""
        sort_order = str(params.get("sortOrder") or "ascending").lower()
        if sort_order not in SORT_ORDERS:
            raise InvalidValue("sortOrder must be 'ascending' or 'descending'.")

        count = _integer(params, "count", settings.default_page_size)
        return cls(
            filter=params.get("filter") or None,
            sort_by=params.get("sortBy") or None,
            descending=sort_order == "descending",
            start_index=max(1, _integer(params, "startIndex", 1)),
            count=min(max(0, count), settings.max_page_size),
            attributes=attribute_list(params.get("attributes")),
            excluded_attributes=attribute_list(params.get("excludedAttributes")),
            cursor=CursorRequest.from_params(params, settings),
        )

    def where(self, resource_type: ResourceType) -> ColumnElement[bool] | None:
        """The SQL condition of the filter, if there is one."""
        return filter_clause(resource_type, self.filter) if self.filter else None

    def order_by(self, resource_type: ResourceType) -> list[SQLColumnExpression[Any]]:
        """The SQL ordering of ``sortBy``; without one, creation order."""
        if not self.sort_by:
            return [Resource.created]
        return self.ordering(self.sort_key(resource_type))

    def sort_key(self, resource_type: ResourceType) -> SQLColumnExpression[Any]:
        """The SQL value that ``sortBy`` names for ``resource_type``."""
        return sort_key(resource_type, self.sort_by or "id")

    def ordering(self, key: SQLColumnExpression[Any]) -> list[SQLColumnExpression[Any]]:
        """RFC 7644 §3.4.2.3: resources without a value sort last when ascending.

        Descending order is the exact reverse, so they come first.
        """
        if self.descending:
            return [key.is_(None).desc(), key.desc()]
        return [key.is_(None), key.asc()]


def attribute_list(value: Any) -> tuple[str, ...]:
    """Split a comma-separated ``attributes`` value (or accept a JSON list)."""
    if not value:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _integer(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"{name} must be an integer, not '{value}'.") from None
