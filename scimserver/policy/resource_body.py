"""The attributes of a SCIM resource body, each with its resolved path.

A body holds core and common attributes at the top and each extension's
attributes under the extension's URN (RFC 7643 §3.3). The release policy walks
both the same way: :func:`top_level` yields every attribute wherever it sits,
and :func:`place` puts a value back at the same spot in another body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from scimserver.scim.schema import Attribute, AttributePath, ResourceType, Schema

logger = logging.getLogger(__name__)

SCHEMAS_KEY = "schemas"


@dataclass(frozen=True)
class Located:
    """One top-level attribute of a body: where it sits, its path and value."""

    section: str | None
    key: str
    path: AttributePath
    value: Any

    def sub_path(self, sub: Attribute) -> AttributePath:
        """The path of one of the attribute's sub-attributes."""
        return AttributePath(
            self.path.schema, self.path.attribute, sub, self.path.core_schema
        )


def top_level(resource_type: ResourceType, body: dict[str, Any]) -> Iterator[Located]:
    """Yield each attribute of ``body`` that the resource type defines.

    Keys that name no attribute, and ``schemas``, are skipped.
    """
    for key, value in body.items():
        if key == SCHEMAS_KEY:
            continue
        extension = _extension(resource_type, key)
        if extension is not None:
            yield from _section(resource_type, key, value)
            continue
        path = resource_type.top_level_path(None, key)
        if path is not None:
            yield Located(None, key, path, value)


class WholeRelease(Protocol):
    """Which attributes are kept with every part: no value needs asking about."""

    def whole(self, path: AttributePath) -> bool:
        """Whether every part of the top-level attribute ``path`` is kept."""
        ...

    def whole_keys(self, resource_type: ResourceType) -> Container[str]:
        """The top-level body keys (no extension) of attributes kept whole."""
        ...


def prune(
    resource_type: ResourceType,
    body: dict[str, Any],
    keep: Callable[[AttributePath], bool],
    kept_whole: WholeRelease | None = None,
) -> dict[str, Any]:
    """Return ``body`` holding only the simple attributes and sub-attributes kept.

    ``keep`` is asked about each simple attribute and each sub-attribute; a
    complex value left empty goes, and so does an extension left empty, with its
    URN in ``schemas`` (RFC 7643 §3). Keys that name no attribute go too.
    ``kept_whole``, when given, says of top-level attributes that every part is
    kept, which spares asking about each value (``body`` is then trusted to hold
    only the sub-attributes the schema defines, as stored bodies do).
    """
    whole_keys = () if kept_whole is None else kept_whole.whole_keys(resource_type)
    result: dict[str, Any] = {}
    for key, value in body.items():
        if key == SCHEMAS_KEY:
            continue
        if key in whole_keys:
            if not is_unassigned(value):
                result[key] = value  # The common case, without a Located.
            continue
        for located in top_level(resource_type, {key: value}):
            whole = kept_whole is not None and kept_whole.whole(located.path)
            kept = located.value if whole else _pruned(located, keep)
            if not is_unassigned(kept):
                place(result, located, kept)

    if SCHEMAS_KEY not in body:
        return result
    core = resource_type.schema.id.lower()
    kept = {key.lower() for key in result} | {core}
    schemas = [urn for urn in body[SCHEMAS_KEY] if urn.lower() in kept]
    return {SCHEMAS_KEY: schemas, **result}


def is_unassigned(value: Any) -> bool:
    """Whether a value counts as no value (RFC 7643 §2.5: null, "" or [])."""
    return value is None or value == "" or value == [] or value == {}


def place(body: dict[str, Any], located: Located, value: Any) -> None:
    """Store ``value`` in ``body`` where ``located`` sits in its own body."""
    if located.section is None:
        body[located.key] = value
        return
    body.setdefault(located.section, {})[located.key] = value


def sub_attributes(attribute: Attribute, item: Any) -> Iterator[tuple[str, Attribute]]:
    """Yield the keys of a complex value with the sub-attribute each names."""
    if not isinstance(item, dict):
        return
    for key in item:
        sub = attribute.sub_attribute(key)
        if sub is not None:
            yield key, sub


def _pruned(located: Located, keep: Callable[[AttributePath], bool]) -> Any:
    attribute = located.path.attribute
    if not attribute.sub_attributes:
        return located.value if keep(located.path) else None
    if not attribute.multi_valued:
        return _pruned_item(located, located.value, keep)
    if not isinstance(located.value, list):
        return None
    items = [_pruned_item(located, item, keep) for item in located.value]
    return [item for item in items if item]


def _pruned_item(
    located: Located, item: Any, keep: Callable[[AttributePath], bool]
) -> dict[str, Any]:
    return {
        key: item[key]
        for key, sub in sub_attributes(located.path.attribute, item)
        if keep(located.sub_path(sub))
    }


def _extension(resource_type: ResourceType, key: str) -> Schema | None:
    if ":" not in key:
        return None
    schema = resource_type.extension(key)
    return None if schema is resource_type.schema else schema


def _section(
    resource_type: ResourceType, section: str, value: Any
) -> Iterator[Located]:
    if not isinstance(value, dict):
        return
    for key, inner in value.items():
        path = resource_type.top_level_path(section, key)
        if path is not None:
            yield Located(section, key, path, inner)
