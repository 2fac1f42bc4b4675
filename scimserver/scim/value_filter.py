"""Value filters evaluated on one value of a multi-valued attribute, in Python.

PATCH paths such as ``emails[type eq "work"]`` pick values inside a document that
is already loaded (RFC 7644 §3.5.2); the semantics match the SQL translation in
:mod:`scimserver.scim.filter`.
"""

from __future__ import annotations

from typing import Any

from scimserver.scim.errors import InvalidFilter
from scimserver.scim.filter import (
    AttributeReference,
    Comparison,
    Expression,
    Logical,
    Negation,
    ValuePath,
)
from scimserver.scim.schema import Attribute
from scimserver.scim.validation import is_unassigned
from scimserver.scim.value_index import NUMBER_TYPES, TEXT_TYPES, parse_datetime

ORDERING = ("gt", "ge", "lt", "le")
SUBSTRING = ("co", "sw", "ew")
OPERATORS = ("eq", "ne", "pr", *ORDERING, *SUBSTRING)


def matches(value_filter: Expression, value: Any, attribute: Attribute) -> bool:
    """Tell whether one value of ``attribute`` meets a value filter (§3.4.2.2).

    The semantics are those of :mod:`scimserver.scim.filter`: ``ne`` negates
    ``eq``, ``eq null`` means unassigned, strings compare ignoring case unless the
    sub-attribute is caseExact.
    """
    if isinstance(value_filter, Logical):
        results = (matches(o, value, attribute) for o in value_filter.operands)
        return all(results) if value_filter.operator == "and" else any(results)
    if isinstance(value_filter, Negation):
        return not matches(value_filter.operand, value, attribute)
    if isinstance(value_filter, ValuePath):
        raise InvalidFilter("Value filters cannot be nested.")

    sub, operator, expected = comparison(value_filter, attribute)
    actual = value.get(sub.name) if isinstance(value, dict) else None
    return _compare(operator, actual, expected, sub)


def check_filter(value_filter: Expression, attribute: Attribute) -> None:
    """Check every comparison of a value filter before it is evaluated."""
    if isinstance(value_filter, Logical):
        for operand in value_filter.operands:
            check_filter(operand, attribute)
    elif isinstance(value_filter, Negation):
        check_filter(value_filter.operand, attribute)
    elif isinstance(value_filter, ValuePath):
        raise InvalidFilter("Value filters cannot be nested.")
    else:
        comparison(value_filter, attribute)


def comparison(node: Comparison, attribute: Attribute) -> tuple[Attribute, str, Any]:
    """Return the sub-attribute, operator and typed operand of a comparison."""
    sub = _filter_sub_attribute(node.path, attribute)
    operator = node.operator
    if operator not in OPERATORS:
        raise InvalidFilter(f"Unknown operator '{operator}'.")
    if operator == "pr" or (node.value is None and operator in ("eq", "ne")):
        return sub, operator, None

    if node.value is None:
        raise InvalidFilter(f"'{operator}' cannot compare with null.")
    if operator in SUBSTRING and sub.type not in TEXT_TYPES:
        raise InvalidFilter(f"'{operator}' compares strings; '{sub.name}' is not one.")
    if operator in ORDERING and sub.type in ("boolean", "binary"):
        raise InvalidFilter(f"'{operator}' cannot order {sub.type} '{sub.name}'.")
    return sub, operator, _operand(sub, node.value)


def _filter_sub_attribute(
    reference: AttributeReference, attribute: Attribute
) -> Attribute:
    sub = None
    if reference.urn is None and reference.sub_attribute is None:
        sub = attribute.sub_attribute(reference.name)
    if sub is None:
        raise InvalidFilter(f"'{attribute.name}' has no sub-attribute '{reference}'.")
    return sub


def _operand(sub: Attribute, value: Any) -> Any:
    """The filter's value, checked against the sub-attribute's type."""
    kind = sub.type
    if kind in TEXT_TYPES or kind == "binary":
        matched = isinstance(value, str)
    elif kind == "boolean":
        matched = isinstance(value, bool)
    elif kind in NUMBER_TYPES:
        matched = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "dateTime":
        matched = isinstance(value, str) and parse_datetime(value) is not None
    else:
        matched = False
    if not matched:
        raise InvalidFilter(f"'{sub.name}' is of type {kind}; {value!r} is not.")
    return value


def _compare(operator: str, actual: Any, expected: Any, sub: Attribute) -> bool:
    present = not is_unassigned(actual)
    if operator == "pr" or expected is None:
        return present if operator != "eq" else not present
    if not present:
        return operator == "ne"

    left, right = _comparable(actual, sub), _comparable(expected, sub)
    if operator in ("eq", "ne"):
        return bool(left == right) == (operator == "eq")
    if operator in SUBSTRING:
        return bool(
            (operator == "co" and right in left)
            or (operator == "sw" and left.startswith(right))
            or (operator == "ew" and left.endswith(right))
        )
    return bool(
        (operator == "gt" and left > right)
        or (operator == "ge" and left >= right)
        or (operator == "lt" and left < right)
        or (operator == "le" and left <= right)
    )


def _comparable(value: Any, sub: Attribute) -> Any:
    if sub.type == "dateTime":
        return parse_datetime(str(value))
    if isinstance(value, str) and not sub.case_exact:
        return value.lower()
    return value
