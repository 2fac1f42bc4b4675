"""SCIM schemas and resource types loaded from their JSON definitions (RFC 7643 §7).

The definitions in ``schemas/`` drive validation, serialization, filters and PATCH:
nothing about a particular attribute is written in code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from scimserver.scim.errors import InvalidPath

logger = logging.getLogger(__name__)

#: How many body keys a resource type remembers the attribute of.
MAX_REMEMBERED_KEYS = 1_024

COMMON_SCHEMA = "urn:scimserver:internal:common"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition with its characteristics (RFC 7643 §2.2, §7)."""

    name: str
    type: str
    schema: str
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    description: str = ""
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    parent: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_complex(self) -> bool:
        return self.type == "complex"

    def sub_attribute(self, name: str) -> Attribute | None:
        """Return the sub-attribute called ``name`` (case-insensitive)."""
        return self._sub_attributes_by_name.get(name.lower())

    @cached_property
    def _sub_attributes_by_name(self) -> dict[str, Attribute]:
        return {s.name.lower(): s for s in self.sub_attributes}

    def to_representation(self) -> dict[str, Any]:
        """Return the definition as served by ``/Schemas`` (RFC 7643 §7)."""
        body: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            body["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            body["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            body["subAttributes"] = [s.to_representation() for s in self.sub_attributes]
        return body


@dataclass(frozen=True)
class Schema:
    """A schema: a URN and its attribute definitions."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        """Return the top-level attribute called ``name`` (case-insensitive)."""
        return self._attributes_by_name.get(name.lower())

    @cached_property
    def _attributes_by_name(self) -> dict[str, Attribute]:
        return {a.name.lower(): a for a in self.attributes}

    def to_representation(self) -> dict[str, Any]:
        """Return the schema as served by ``/Schemas`` (RFC 7643 §7)."""
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_representation() for a in self.attributes],
        }


@dataclass(frozen=True)
class AttributePath:
    """A resolved attribute path: ``[URN:]attribute[.subAttribute]``."""

    schema: Schema
    attribute: Attribute
    sub_attribute: Attribute | None = None
    core_schema: str = ""

    @property
    def is_extension(self) -> bool:
        """True when the attribute belongs to an extension schema."""
        return self.attribute.schema not in (COMMON_SCHEMA, self.core_schema)

    @property
    def target(self) -> Attribute:
        """The attribute the path ends at."""
        return self.sub_attribute or self.attribute

    @cached_property
    def key(self) -> tuple[str, str, str]:
        """Schema URN, attribute and sub-attribute ("" if none), lower-cased."""
        sub = self.sub_attribute.name.lower() if self.sub_attribute else ""
        return (self.schema.id.lower(), self.attribute.name.lower(), sub)

    def __str__(self) -> str:
        text = self.attribute.name
        if self.sub_attribute:
            text += "." + self.sub_attribute.name
        if self.is_extension:
            text = f"{self.schema.id}:{text}"
        return text


@dataclass(frozen=True)
class ResourceType:
    """A resource type (RFC 7643 §6): an endpoint, a core schema and extensions."""

    id: str
    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[tuple[Schema, bool], ...]
    common: Schema

    @cached_property
    def extension_ids(self) -> tuple[str, ...]:
        return tuple(schema.id for schema, _required in self.extensions)

    @cached_property
    def top_level_paths(self) -> tuple[AttributePath, ...]:
        """The paths of the common and core attributes, one per body key.

        A body names them as the schema spells them; where a common and a core
        attribute share a name, the key means what :meth:`top_level_path` says.
        """
        attributes = (*self.common.attributes, *self.schema.attributes)
        names = dict.fromkeys(attribute.name for attribute in attributes)
        paths = (self.top_level_path(None, name) for name in names)
        return tuple(path for path in paths if path is not None)

    @cached_property
    def returned_by_default(self) -> frozenset[str]:
        """Body keys of the core and common attributes a response holds unasked.

        RFC 7643 §7: those whose ``returned`` is ``always`` or ``default``.
        """
        return frozenset(
            path.attribute.name
            for path in self.top_level_paths
            if path.attribute.returned not in ("never", "request")
        )

    def all_schemas(self) -> Iterator[Schema]:
        """Yield the core schema, then each extension schema."""
        yield self.schema
        for schema, _required in self.extensions:
            yield schema

    def extension(self, urn: str) -> Schema | None:
        """Return the extension schema with id ``urn`` (case-insensitive)."""
        found = self._schemas_by_urn.get(urn)
        if found is None and ":" in urn:
            found = self._schemas_by_urn.get(urn.lower())
        return found

    def top_level_path(self, section: str | None, key: str) -> AttributePath | None:
        """The path of the attribute that ``key`` names in a body, or None.

        ``section`` is the extension URN the key sits under, None at the top.
        Stored bodies repeat the same few keys, so answers are kept, up to a
        bound that keys invented by clients cannot push memory past.
        """
        known = self._top_level_paths
        if (section, key) in known:
            return known[section, key]

        if section is None:
            attribute = self.common.attribute(key) or self.schema.attribute(key)
            schema: Schema | None = self.schema
        else:
            schema = self.extension(section)
            attribute = None if schema is None else schema.attribute(key)
        path = None
        if schema is not None and attribute is not None:
            path = AttributePath(schema, attribute, None, self.schema.id)
        if len(known) < MAX_REMEMBERED_KEYS:
            known[section, key] = path
        return path

    @cached_property
    def _schemas_by_urn(self) -> dict[str, Schema]:
        found: dict[str, Schema] = {}
        for schema in self.all_schemas():
            found[schema.id] = found[schema.id.lower()] = schema
        return found

    @cached_property
    def _top_level_paths(self) -> dict[tuple[str | None, str], AttributePath | None]:
        return {}

    def resolve(self, path: str) -> AttributePath:
        """Resolve a path such as ``name.givenName`` or ``URN:manager.value``.

        RFC 7644 §3.10: attribute names are case-insensitive and may be qualified by
        the URN of their schema. Raises :class:`InvalidPath` for unknown paths.
        """
        schema, rest = self._split_urn(path)
        name, _dot, sub_name = rest.partition(".")
        attribute = self._find_attribute(schema, name)
        if attribute is None:
            raise InvalidPath(f"Unknown attribute '{path}' for {self.name} resources.")

        sub_attribute = None
        if sub_name:
            sub_attribute = attribute.sub_attribute(sub_name)
            if sub_attribute is None:
                raise InvalidPath(
                    f"Attribute '{attribute.name}' has no sub-attribute '{sub_name}'."
                )
        owner = schema or self._schema_of(attribute)
        return AttributePath(owner, attribute, sub_attribute, self.schema.id)

    def _split_urn(self, path: str) -> tuple[Schema | None, str]:
        lowered = path.lower()
        for schema in self.all_schemas():
            prefix = schema.id.lower() + ":"
            if lowered.startswith(prefix):
                return schema, path[len(prefix) :]
        if lowered.startswith("urn:"):
            raise InvalidPath(f"Unknown schema in attribute path '{path}'.")
        return None, path

    def _find_attribute(self, schema: Schema | None, name: str) -> Attribute | None:
        if schema is not None:
            return schema.attribute(name) or (
                self.common.attribute(name) if schema is self.schema else None
            )
        return self.common.attribute(name) or self.schema.attribute(name)

    def _schema_of(self, attribute: Attribute) -> Schema:
        if attribute.schema == COMMON_SCHEMA:
            return self.schema
        return next(s for s in self.all_schemas() if s.id == attribute.schema)

    def to_representation(self, base_url: str) -> dict[str, Any]:
        """Return the resource type as served by ``/ResourceTypes`` (RFC 7643 §6)."""
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [
                {"schema": schema.id, "required": required}
                for schema, required in self.extensions
            ],
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/scim/v2/ResourceTypes/{self.id}",
            },
        }


class SchemaRegistry:
    """Every schema and resource type the server knows, read from one folder."""

    def __init__(self, schemas: dict[str, Schema], resource_types: list[ResourceType]):
        self.schemas = schemas
        self.resource_types = resource_types

    @classmethod
    def load(cls, folder: str | Path) -> SchemaRegistry:
        """Read ``*.json`` schemas and ``resource_types/*.json`` from ``folder``."""
        folder = Path(folder)
        schemas = {}
        for file in sorted(folder.glob("*.json")):
            schema = parse_schema(json.loads(file.read_text(encoding="utf-8")))
            schemas[schema.id] = schema

        common = schemas.pop(COMMON_SCHEMA)
        resource_types = [
            parse_resource_type(
                json.loads(file.read_text(encoding="utf-8")), schemas, common
            )
            for file in sorted((folder / "resource_types").glob("*.json"))
        ]
        logger.info(
            "loaded %d schemas and %d resource types", len(schemas), len(resource_types)
        )
        return cls(schemas, resource_types)

    def schema(self, urn: str) -> Schema | None:
        """Return the served schema with id ``urn`` (case-insensitive)."""
        wanted = urn.lower()
        return next((s for s in self.schemas.values() if s.id.lower() == wanted), None)

    def resource_type(self, name: str) -> ResourceType | None:
        """Return the resource type called ``name`` (case-insensitive)."""
        wanted = name.lower()
        return next((r for r in self.resource_types if r.name.lower() == wanted), None)


def parse_schema(document: dict[str, Any]) -> Schema:
    """Build a :class:`Schema` from its RFC 7643 §7 representation."""
    schema_id = document["id"]
    return Schema(
        id=schema_id,
        name=document.get("name", ""),
        description=document.get("description", ""),
        attributes=tuple(
            parse_attribute(a, schema_id, None) for a in document["attributes"]
        ),
    )


def parse_attribute(
    document: dict[str, Any], schema_id: str, parent: str | None
) -> Attribute:
    """Build an :class:`Attribute`, with the RFC 7643 §2.2 defaults."""
    return Attribute(
        name=document["name"],
        type=document.get("type", "string"),
        schema=schema_id,
        multi_valued=document.get("multiValued", False),
        required=document.get("required", False),
        case_exact=document.get("caseExact", False),
        mutability=document.get("mutability", "readWrite"),
        returned=document.get("returned", "default"),
        uniqueness=document.get("uniqueness", "none"),
        description=document.get("description", ""),
        canonical_values=tuple(document.get("canonicalValues", ())),
        reference_types=tuple(document.get("referenceTypes", ())),
        sub_attributes=tuple(
            parse_attribute(s, schema_id, document["name"])
            for s in document.get("subAttributes", ())
        ),
        parent=parent,
    )


def parse_resource_type(
    document: dict[str, Any], schemas: dict[str, Schema], common: Schema
) -> ResourceType:
    """Build a :class:`ResourceType` from its RFC 7643 §6 representation."""
    extensions = tuple(
        (schemas[ext["schema"]], bool(ext.get("required", False)))
        for ext in document.get("schemaExtensions", ())
    )
    return ResourceType(
        id=document.get("id", document["name"]),
        name=document["name"],
        endpoint=document["endpoint"],
        description=document.get("description", ""),
        schema=schemas[document["schema"]],
        extensions=extensions,
        common=common,
    )
