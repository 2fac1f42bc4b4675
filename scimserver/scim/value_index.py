"""The value index: where each filterable attribute value is stored in SQL.

A resource's document is written once as JSON; every simple value a filter or
``sortBy`` can reach is also written as a :class:`ResourceValue` row, so that
filters (RFC 7644 §3.4.2.2) and sorting (§3.4.2.3) run as indexed SQL. A few
attributes live in columns of :class:`Resource` instead (``id``, ``externalId``,
``meta.*``, ``userName``, ``displayName``), and group membership lives in
:class:`Membership`; this module says which is which.

Rules of the index rows:

- ``attribute`` is the lower-cased attribute name, prefixed with the lower-cased
  schema URN and ``:`` for extension attributes; ``sub_attribute`` is the
  lower-cased sub-attribute name or ``""``.
- ``item`` is the position of the value in a multi-valued attribute and ``0`` for
  a singular one, so that one value-path filter can require several conditions
  to hold for the same value.
- Strings and references go to ``text_value``, lower-cased unless the attribute
  is ``caseExact``; integers and decimals to ``number_value``; booleans to
  ``bool_value``; dateTimes to ``time_value`` as aware UTC datetimes.
- Nothing is written for an attribute without a value: ``null``, an empty list,
  an empty string (RFC 7644 §3.4.2.2 treats only non-empty values as present),
  or a value of the wrong JSON type.
- Never indexed: binary values, attributes that are ``returned: never`` (such as
  ``password``), and the attributes held in columns or in memberships.

Reading a value back, :func:`value_condition` compares it the way filters need:
case-folded unless ``caseExact``, text ordered by Unicode code point on every
database, and ``co``/``sw``/``ew`` as LIKE with the wildcards escaped.
"""

from __future__ import annotations

import logging
import operator as python_operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    FunctionElement,
    Select,
    SQLColumnExpression,
    Text,
    and_,
    func,
    literal,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.compiler import SQLCompiler

from scimserver.models import Membership, Resource, ResourceValue
from scimserver.scim.schema import (
    COMMON_SCHEMA,
    Attribute,
    AttributePath,
    ResourceType,
)

logger = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

TEXT_TYPES = frozenset({"string", "reference"})
NUMBER_TYPES = frozenset({"integer", "decimal"})
ORDERING = frozenset({"gt", "ge", "lt", "le"})
SUBSTRING = frozenset({"co", "sw", "ew"})
COMPARATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": python_operator.eq,
    "gt": python_operator.gt,
    "ge": python_operator.ge,
    "lt": python_operator.lt,
    "le": python_operator.le,
}
LIKE_ESCAPE = "/"

#: Common attributes held in columns, by lower-cased ``name`` or ``meta.sub``.
COMMON_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Resource.id,
    "externalid": Resource.external_id,
    "meta.created": Resource.created,
    "meta.lastmodified": Resource.last_modified,
    "meta.resourcetype": Resource.resource_type,
}

#: Top-level core attributes held in columns, by lower-cased name.
CORE_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "username": Resource.user_name,
    "displayname": Resource.display_name,
}

#: Attributes read from :class:`Membership`: (core schema, lower-cased name).
MEMBERSHIP_ATTRIBUTES: dict[tuple[str, str], Literal["members", "groups"]] = {
    (GROUP_SCHEMA, "members"): "members",
    (USER_SCHEMA, "groups"): "groups",
}

ValueRow = dict[str, Any]


def index_values(
    resource_type: ResourceType, document: dict[str, Any]
) -> list[ValueRow]:
    """Return the :class:`ResourceValue` rows of ``document``, without resource_id.

    ``document`` is the resource in wire form: core attributes at the top level,
    extension attributes under their schema URN. Unknown names are skipped.
    """
    rows: list[ValueRow] = []
    for schema in resource_type.all_schemas():
        is_core = schema is resource_type.schema
        source = document if is_core else document.get(schema.id)
        if not isinstance(source, dict):
            continue

        prefix = "" if is_core else schema.id.lower() + ":"
        for name, value in source.items():
            attribute = schema.attribute(name)
            if attribute is None or not _is_indexed(attribute, is_core):
                continue
            key = prefix + attribute.name.lower()
            rows.extend(_attribute_rows(key, attribute, value))
    return rows


def _is_indexed(attribute: Attribute, is_core: bool) -> bool:
    if attribute.returned == "never" or attribute.type == "binary":
        return False
    if attribute.schema == COMMON_SCHEMA:
        return False
    if (attribute.schema, attribute.name.lower()) in MEMBERSHIP_ATTRIBUTES:
        return False
    return not (is_core and attribute.name.lower() in CORE_COLUMNS)


def _attribute_rows(key: str, attribute: Attribute, value: Any) -> Iterator[ValueRow]:
    for item, element in enumerate(_values_of(attribute, value)):
        if not attribute.is_complex:
            yield from _simple_rows(key, "", item, attribute, element)
            continue
        if not isinstance(element, dict):
            continue

        for sub_name, sub_value in element.items():
            sub = attribute.sub_attribute(sub_name)
            if sub is None or sub.returned == "never" or sub.type == "binary":
                continue
            for simple in _values_of(sub, sub_value):
                yield from _simple_rows(key, sub.name.lower(), item, sub, simple)


def _values_of(attribute: Attribute, value: Any) -> list[Any]:
    if attribute.multi_valued and isinstance(value, list):
        return value
    return [value]


def _simple_rows(
    key: str, sub_key: str, item: int, attribute: Attribute, value: Any
) -> Iterator[ValueRow]:
    typed = _typed_value(attribute, value)
    if typed is None:
        return

    row: ValueRow = {
        "attribute": key,
        "sub_attribute": sub_key,
        "item": item,
        "text_value": None,
        "number_value": None,
        "bool_value": None,
        "time_value": None,
    }
    row[value_column(ResourceValue, attribute).key] = typed
    yield row


def _typed_value(
    attribute: Attribute, value: Any
) -> str | float | bool | datetime | None:
    if attribute.type in TEXT_TYPES:
        if not isinstance(value, str) or value == "":
            return None
        return value if attribute.case_exact else value.lower()
    if attribute.type == "boolean":
        return value if isinstance(value, bool) else None
    if attribute.type in NUMBER_TYPES:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if is_number else None
    if attribute.type == "dateTime" and isinstance(value, str):
        return parse_datetime(value)
    return None


def index_key(path: AttributePath) -> str:
    """Return the ``attribute`` column value of the rows holding ``path``."""
    name = path.attribute.name.lower()
    if path.is_extension:
        return f"{path.attribute.schema.lower()}:{name}"
    return name


def column_for(path: AttributePath) -> InstrumentedAttribute[Any] | None:
    """Return the :class:`Resource` column holding ``path``, if it has one."""
    attribute = path.attribute
    if attribute.schema == COMMON_SCHEMA:
        name = attribute.name.lower()
        if path.sub_attribute is not None:
            name += "." + path.sub_attribute.name.lower()
        return COMMON_COLUMNS.get(name)

    if path.sub_attribute is None and attribute.schema == path.core_schema:
        return CORE_COLUMNS.get(attribute.name.lower())
    return None


def membership_of(path: AttributePath) -> Literal["members", "groups"] | None:
    """Return which side of :class:`Membership` holds ``path``, if any."""
    return MEMBERSHIP_ATTRIBUTES.get(
        (path.attribute.schema, path.attribute.name.lower())
    )


def membership_rows(
    relation: Literal["members", "groups"],
) -> tuple[Select[Any], dict[str, SQLColumnExpression[Any]]]:
    """The rows of ``members`` (or ``groups``) of the resource being filtered.

    Returns a query correlated with :class:`Resource`, and the SQL expression of
    each sub-attribute: ``value`` (the id), ``type`` and ``display``.

    TODO: User ``groups`` lists direct memberships only; indirect ones (through
    nested groups) would need a recursive query.
    """
    link = aliased(Membership)
    peer = aliased(Resource)
    if relation == "members":
        query = (
            select(link.member_id)
            .join(peer, peer.id == link.member_id)
            .where(link.group_id == Resource.id)
        )
        display = func.coalesce(peer.display_name, peer.user_name)
        return query, member_fields(link.member_id, link.member_type, display)

    query = (
        select(link.group_id)
        .join(peer, peer.id == link.group_id)
        .where(link.member_id == Resource.id)
    )
    return query, {
        "value": link.group_id,
        "type": literal("direct", Text),
        "display": peer.display_name,
    }


def member_fields(
    value: SQLColumnExpression[Any],
    kind: SQLColumnExpression[Any],
    display: SQLColumnExpression[Any],
) -> dict[str, SQLColumnExpression[Any]]:
    """Name the SQL expressions of the ``members`` sub-attributes."""
    return {"value": value, "type": kind, "display": display}


def is_unstored(path: AttributePath) -> bool:
    """True for paths held nowhere SQL can read them (``meta.location``, binary)."""
    if path.attribute.schema == COMMON_SCHEMA:
        return column_for(path) is None
    return path.target.type == "binary" or path.target.returned == "never"


def value_column(
    rows: type[ResourceValue], attribute: Attribute
) -> InstrumentedAttribute[Any]:
    """Return the column of ``rows`` (a :class:`ResourceValue` alias) for a type."""
    if attribute.type in NUMBER_TYPES:
        return rows.number_value
    if attribute.type == "boolean":
        return rows.bool_value
    if attribute.type == "dateTime":
        return rows.time_value
    return rows.text_value


def parse_datetime(text: str) -> datetime | None:
    """Parse an xsd:dateTime (RFC 7643 §2.3.5) into an aware UTC datetime.

    A value without a UTC offset is taken as UTC; unparsable text gives ``None``.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ValueField:
    """A SQL expression holding values of one attribute, and its case rule.

    ``stored_lower``: the values are stored lower-cased, lower operands in Python.
    ``sql_lower``: the expression applies SQL ``lower()``, so do operands.
    """

    expression: SQLColumnExpression[Any]
    attribute: Attribute
    case: Literal["exact", "stored_lower", "sql_lower"]


def row_condition(field: ValueField, operator: str, value: Any) -> ColumnElement[bool]:
    """A two-valued condition: false rather than NULL where the field is NULL."""
    present: ColumnElement[bool] = field.expression.is_not(None)
    if field.attribute.type in TEXT_TYPES:
        present = and_(present, field.expression != "")
    if operator == "pr":
        return present
    return and_(present, value_condition(field, operator, value))


def value_condition(
    field: ValueField, operator: str, value: Any
) -> ColumnElement[bool]:
    """Compare ``field`` with ``value`` by eq, gt, ge, lt, le, co, sw or ew.

    ``value`` already has the attribute's type (RFC 7644 §3.4.2.2, Table 3).
    """
    if operator in SUBSTRING:
        return _substring(field, operator, value)
    operand = _operand(field, value)
    if operator == "eq":
        equal: ColumnElement[bool] = field.expression == operand
        return equal
    return COMPARATORS[operator](ordered(field.expression, field.attribute), operand)


class byte_order(FunctionElement[str]):  # noqa: N801 - named like SQL functions
    """A text expression compared in code point order on every database.

    RFC 7644 §3.4.2.3 asks for Unicode order "with no specific locale implied".
    SQLite compares text by code point already; PostgreSQL needs ``COLLATE "C"``.
    """

    type = Text()
    name = "byte_order"
    inherit_cache = True


@compiles(byte_order)
def _compile_byte_order(element: byte_order, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(byte_order, "postgresql")
def _compile_byte_order_postgresql(
    element: byte_order, compiler: SQLCompiler, **kw: Any
) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def ordered(
    expression: SQLColumnExpression[Any], attribute: Attribute
) -> SQLColumnExpression[Any]:
    """Wrap ``expression`` for ordering comparisons when it holds text."""
    if attribute.type in TEXT_TYPES:
        return byte_order(expression)
    return expression


def _operand(field: ValueField, value: Any) -> Any:
    if not isinstance(value, str) or field.attribute.type not in TEXT_TYPES:
        return value
    if field.case == "stored_lower":
        return value.lower()
    if field.case == "sql_lower":
        return func.lower(literal(value, Text))
    return value


def _substring(field: ValueField, operator: str, value: str) -> ColumnElement[bool]:
    """``co``/``sw``/``ew`` as LIKE with escaped wildcards.

    SQLite's LIKE ignores ASCII case, so case-exact fields also check the exact
    substring with functions both databases share.
    """
    text = value.lower() if field.case == "stored_lower" else value
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    pattern = {"co": f"%{escaped}%", "sw": f"{escaped}%", "ew": f"%{escaped}"}
    like = field.expression.like(_operand(field, pattern[operator]), escape=LIKE_ESCAPE)
    if field.case != "exact" or not text:
        return like
    return and_(like, _exact_substring(field.expression, operator, text))


def _exact_substring(
    expression: SQLColumnExpression[Any], operator: str, text: str
) -> ColumnElement[bool]:
    if operator == "sw":
        return func.substr(expression, 1, len(text)) == text
    if operator == "ew":
        start = func.length(expression) - (len(text) - 1)
        return func.substr(expression, start) == text
    return func.replace(expression, text, "") != expression
