"""What a pseudonymous client sees: User ids replaced by pseudonyms, everywhere.

A User id appears in a body as the User's own ``id`` and ``meta.location``, and
as the ``value`` (and ``$ref``) of a complex attribute that refers to Users:

- always, when its ``$ref`` may point to Users only (enterprise ``manager``);
- per value, when its ``type`` says ``User`` or ``Group`` (Group ``members``): a
  value without a ``type`` is treated as a User, since hiding a Group id costs
  nothing while showing a User id would let two clients correlate;
- never otherwise (a User's ``groups`` hold Group ids, whatever the RFC 7643
  §4.1.2 ``referenceTypes`` say).

Filters name pseudonyms where the store holds ids, so
:func:`resolve_pseudonyms` rewrites the comparisons on User ids through the
server's pseudonym table before the filter reaches SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from scimserver.policy.filter_paths import resolve_reference
from scimserver.policy.pseudonyms import is_pseudonym
from scimserver.policy.resource_body import top_level
from scimserver.scim.errors import InvalidFilter
from scimserver.scim.filter import (
    Comparison,
    Expression,
    Logical,
    Negation,
    ValuePath,
)
from scimserver.scim.schema import COMMON_SCHEMA, Attribute, AttributePath, ResourceType
from scimserver.scim.value_index import USER_SCHEMA

logger = logging.getLogger(__name__)

UserIds = Literal["always", "per_value", "never"]
#: Comparisons on a User id that pseudonyms can answer; others would reveal ids.
ID_OPERATORS = ("eq", "ne", "pr")


def holds_user_ids(attribute: Attribute) -> UserIds:
    """Whether the ``value`` of a complex attribute holds User ids."""
    reference = attribute.sub_attribute("$ref")
    if reference is None or "User" not in reference.reference_types:
        return "never"
    if reference.reference_types == ("User",):
        return "always"
    kind = attribute.sub_attribute("type")
    if kind is not None and "User" in kind.canonical_values:
        return "per_value"
    return "never"


def is_user_id_path(resource_type: ResourceType, path: AttributePath) -> bool:
    """Whether values at ``path`` are (or may be) User ids."""
    if path.attribute.schema == COMMON_SCHEMA and path.attribute.name == "id":
        return is_user_type(resource_type)
    if path.sub_attribute is None or path.sub_attribute.name != "value":
        return False
    return holds_user_ids(path.attribute) != "never"


def is_user_type(resource_type: ResourceType) -> bool:
    """Whether the resources of ``resource_type`` are Users."""
    return resource_type.schema.id == USER_SCHEMA


def pseudonymise(
    resource_type: ResourceType,
    body: dict[str, Any],
    to_pseudonym: Callable[[str], str],
) -> dict[str, Any]:
    """Return a copy of ``body`` with every User id replaced by its pseudonym."""
    result = dict(body)
    for located in top_level(resource_type, body):
        mode = holds_user_ids(located.path.attribute)
        if mode == "never":
            continue
        value = located.value
        if isinstance(value, list):
            value = [_item(item, mode, to_pseudonym) for item in value]
        else:
            value = _item(value, mode, to_pseudonym)
        if located.section is None:
            result[located.key] = value
        else:
            result[located.section] = {**result[located.section], located.key: value}

    if is_user_type(resource_type) and isinstance(body.get("id"), str):
        _pseudonymise_own_id(result, body["id"], to_pseudonym(body["id"]))
    return result


def user_ids_in(resource_type: ResourceType, body: dict[str, Any]) -> set[str]:
    """The User ids that :func:`pseudonymise` would replace in ``body``."""
    found: set[str] = set()
    collect = _collector(found)
    pseudonymise(resource_type, body, collect)
    return found


def resolve_pseudonyms(
    resource_type: ResourceType,
    expression: Expression,
    resolve: Callable[[str], str | None],
) -> Expression:
    """Rewrite the comparisons on User ids of a filter from pseudonyms to ids.

    ``resolve`` returns the User id of an issued pseudonym, or None. A value that
    resolves to no User, on a path that holds only User ids, matches no User:
    the comparison becomes ``eq`` on nothing (``ne`` on nothing for ``ne``), so a
    client cannot test a real id it learnt elsewhere. Call it after
    :meth:`~scimserver.policy.release.ReleasePolicy.check_filter`, which refuses
    the other operators on User ids.
    """
    try:
        return _Resolver(resource_type, resolve).rewrite(expression, None)
    except RecursionError:
        raise InvalidFilter("The filter is nested too deeply.") from None


def _item(item: Any, mode: UserIds, to_pseudonym: Callable[[str], str]) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("value"), str):
        return item
    if mode == "per_value" and _type_of(item) == "group":
        return item

    real = item["value"]
    fake = to_pseudonym(real)
    result = {**item, "value": fake}
    for key in [key for key in item if key.lower() == "$ref"]:
        swapped = _swap_tail(item[key], real, fake)
        if swapped is None:
            del result[key]
        else:
            result[key] = swapped
    return result


def _type_of(item: dict[str, Any]) -> str:
    kind = next((v for k, v in item.items() if k.lower() == "type"), None)
    return kind.lower() if isinstance(kind, str) else ""


def _swap_tail(url: Any, real: str, fake: str) -> str | None:
    """Replace the id ending a URL by the pseudonym; None when it ends otherwise."""
    if not isinstance(url, str) or not url.endswith("/" + real):
        return None
    return url[: len(url) - len(real)] + fake


def _pseudonymise_own_id(result: dict[str, Any], real: str, fake: str) -> None:
    result["id"] = fake
    meta = result.get("meta")
    if not isinstance(meta, dict) or "location" not in meta:
        return
    location = _swap_tail(meta["location"], real, fake)
    result["meta"] = {
        key: location if key == "location" else value
        for key, value in meta.items()
        if key != "location" or location is not None
    }


def _collector(found: set[str]) -> Callable[[str], str]:
    def collect(user_id: str) -> str:
        found.add(user_id)
        return user_id

    return collect


class _Resolver:
    """Rebuilds a filter with pseudonyms on User-id paths resolved."""

    def __init__(
        self, resource_type: ResourceType, resolve: Callable[[str], str | None]
    ) -> None:
        self.resource_type = resource_type
        self.resolve = resolve

    def rewrite(
        self, expression: Expression, parent: AttributePath | None
    ) -> Expression:
        if isinstance(expression, Logical):
            operands = tuple(self.rewrite(o, parent) for o in expression.operands)
            return Logical(expression.operator, operands)
        if isinstance(expression, Negation):
            return Negation(self.rewrite(expression.operand, parent))
        if isinstance(expression, ValuePath):
            outer = resolve_reference(self.resource_type, expression.path, None, "[]")
            return replace(
                expression, condition=self.rewrite(expression.condition, outer)
            )
        return self._comparison(expression, parent)

    def _comparison(
        self, comparison: Comparison, parent: AttributePath | None
    ) -> Expression:
        path = resolve_reference(
            self.resource_type, comparison.path, parent, comparison.operator
        )
        value = comparison.value
        if not is_user_id_path(self.resource_type, path):
            return comparison
        if comparison.operator not in ("eq", "ne") or not isinstance(value, str):
            return comparison

        if is_pseudonym(value):
            resolved = self.resolve(value)
            if resolved is not None:
                return replace(comparison, value=resolved)
        elif holds_user_ids(path.attribute) == "per_value":
            return comparison  # a Group id: Groups are not pseudonymous
        return _matching_nothing(comparison)


def _matching_nothing(comparison: Comparison) -> Expression:
    """``path eq v`` that no resource meets; ``ne`` that every resource meets."""
    present = replace(comparison, operator="pr", value=None)
    impossible = Logical("and", (present, Negation(present)))
    return Negation(impossible) if comparison.operator == "ne" else impossible
