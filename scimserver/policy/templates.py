"""Starting points for release policies, computed from the schemas being served.

A template is a plain policy document: print it, edit it, store it with
``scimserver clients policy set``. ``source-of-record`` suits the HRIS, the
system that writes the directory: it reads every attribute except ``sensitive``
ones (which only consent releases) and writes every attribute a client may
write, including those of optional extensions the server loads. ``reader`` is
the least a downstream application needs: public attributes, real ids, no
writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.policy_paths import canonical_path
from scimserver.policy.release_rules import classification_of
from scimserver.scim.schema import AttributePath, ResourceType, SchemaRegistry

logger = logging.getLogger(__name__)


def source_of_record(
    registry: SchemaRegistry, dictionary: DataDictionary
) -> dict[str, Any]:
    """Read all but ``sensitive``, write every writable attribute, delete all."""
    paths = list(_top_level_paths(registry))
    named = [
        canonical_path(path)
        for path in paths
        if classification_of(dictionary, path) in (None, "restricted")
        and path.attribute.returned != "never"
    ]
    writable = [
        canonical_path(path)
        for path in paths
        if path.attribute.mutability != "readOnly"
    ]
    return {
        "description": "Source of record (HRIS): reads and writes the directory.",
        "read": {"classifications": ["public", "internal"], "attributes": named},
        "write": {
            "attributes": writable,
            "delete": [rt.name for rt in registry.resource_types],
        },
    }


def reader(registry: SchemaRegistry, dictionary: DataDictionary) -> dict[str, Any]:
    """Public attributes under real ids; no writes."""
    return {
        "description": "Reader: public attributes only.",
        "read": {"classifications": ["public"]},
    }


TEMPLATES: dict[str, Callable[[SchemaRegistry, DataDictionary], dict[str, Any]]] = {
    "source-of-record": source_of_record,
    "reader": reader,
}


def _top_level_paths(registry: SchemaRegistry) -> Iterator[AttributePath]:
    """Every top-level attribute of every resource type, common ones included."""
    for resource_type in registry.resource_types:
        for schema in resource_type.all_schemas():
            for attribute in schema.attributes:
                yield AttributePath(schema, attribute, None, resource_type.schema.id)
        yield from _common_paths(resource_type)


def _common_paths(resource_type: ResourceType) -> Iterator[AttributePath]:
    for attribute in resource_type.common.attributes:
        if attribute.name in ("id", "meta"):
            continue
        yield AttributePath(
            resource_type.schema, attribute, None, resource_type.schema.id
        )
