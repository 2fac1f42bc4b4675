"""The attributes a filter reads, resolved the way the SQL translation reads them.

RFC 7644 §3.4.2.2: a comparison on a multi-valued complex attribute without a
sub-attribute compares its ``value``; inside ``attr[...]`` names are
sub-attributes of ``attr``. :mod:`scimserver.scim.filter` applies the same
reading, so the release policy checks exactly what SQL will compare.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace

from scimserver.scim.errors import InvalidFilter, InvalidPath
from scimserver.scim.filter import (
    AttributeReference,
    Comparison,
    Expression,
    Logical,
    Negation,
    ValuePath,
)
from scimserver.scim.schema import AttributePath, ResourceType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FilterUse:
    """One comparison of a filter: the attribute it reads and its operator."""

    path: AttributePath
    operator: str


def filter_uses(
    resource_type: ResourceType, expression: Expression
) -> Iterator[FilterUse]:
    """Yield every comparison of ``expression``, value-path conditions included."""
    pending: list[tuple[Expression, AttributePath | None]] = [(expression, None)]
    while pending:
        node, parent = pending.pop()
        if isinstance(node, Logical):
            pending.extend((operand, parent) for operand in node.operands)
        elif isinstance(node, Negation):
            pending.append((node.operand, parent))
        elif isinstance(node, ValuePath):
            if parent is not None:
                raise InvalidFilter("Value filters cannot be nested.")
            outer = resolve_reference(resource_type, node.path, None, "[]")
            pending.append((node.condition, outer))
        else:
            yield _use(resource_type, node, parent)


def resolve_reference(
    resource_type: ResourceType,
    reference: AttributeReference,
    parent: AttributePath | None,
    operator: str,
) -> AttributePath:
    """Resolve a filter path; ``parent`` is the attribute of an enclosing ``[...]``.

    A whole complex attribute compared by anything but ``pr`` stands for its
    ``value`` sub-attribute (RFC 7643 §2.4). Raises :class:`InvalidFilter`.
    """
    if parent is not None:
        return _sub_path(parent, reference)
    try:
        path = resource_type.resolve(str(reference))
    except InvalidPath as error:
        raise InvalidFilter(error.detail) from None

    if path.sub_attribute is not None or operator in ("pr", "[]"):
        return path
    default = path.attribute.sub_attribute("value")
    return path if default is None else replace(path, sub_attribute=default)


def _use(
    resource_type: ResourceType, comparison: Comparison, parent: AttributePath | None
) -> FilterUse:
    path = resolve_reference(
        resource_type, comparison.path, parent, comparison.operator
    )
    return FilterUse(path, comparison.operator)


def _sub_path(parent: AttributePath, reference: AttributeReference) -> AttributePath:
    sub = parent.attribute.sub_attribute(reference.name)
    if reference.urn is not None or reference.sub_attribute is not None or sub is None:
        raise InvalidFilter(f"'{parent}' has no sub-attribute '{reference}'.")
    return replace(parent, sub_attribute=sub)
