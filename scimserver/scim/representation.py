"""Resources as SCIM JSON, and the ``attributes``/``excludedAttributes`` projection.

RFC 7643 §2.2 ``returned`` and RFC 7644 §3.4.2.5 decide what a response holds; both
are read from the schema definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scimserver.models import Resource
from scimserver.scim.schema import Attribute, ResourceType
from scimserver.scim.store import MemberRef

RELATED_ATTRIBUTES = ("members", "groups")
#: ``returned`` characteristics of what a response leaves out unless asked.
HIDDEN = ("never", "request")

_TOP_LEVEL_ONLY: dict[str, tuple[ResourceType, bool]] = {}


def etag(resource: Resource) -> str:
    """Return the weak entity tag of ``resource`` (RFC 7644 §3.14)."""
    return f'W/"{resource.version}"'


def format_datetime(value: datetime) -> str:
    """Format a timestamp as an xsd:dateTime in UTC with a ``Z`` suffix."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def location(base_url: str, resource_type: ResourceType, resource_id: str) -> str:
    """Return the URL of a resource, used in ``meta.location`` and ``$ref``."""
    return f"{base_url}/scim/v2{resource_type.endpoint}/{resource_id}"


def represent(
    resource_type: ResourceType,
    resource: Resource,
    base_url: str,
    related: Sequence[MemberRef] | None = None,
    related_types: dict[str, ResourceType] | None = None,
) -> dict[str, Any]:
    """Return the full SCIM representation of ``resource``.

    ``related`` holds a Group's members or a User's groups, when they were loaded.
    """
    document = resource.attributes
    schemas = [resource_type.schema.id]
    schemas += [urn for urn in resource_type.extension_ids if document.get(urn)]

    body: dict[str, Any] = {"schemas": schemas, "id": resource.id}
    body.update(document)
    body["meta"] = {
        "resourceType": resource_type.name,
        "created": format_datetime(resource.created),
        "lastModified": format_datetime(resource.last_modified),
        "location": location(base_url, resource_type, resource.id),
        "version": etag(resource),
    }
    related_name = related_attribute(resource_type)
    if related and related_name:
        body[related_name] = [
            related_value(ref, base_url, related_types or {}) for ref in related
        ]
    return body


def related_attribute(resource_type: ResourceType) -> str | None:
    """Name of the attribute kept outside the document (``members``/``groups``)."""
    for name in RELATED_ATTRIBUTES:
        attribute = resource_type.schema.attribute(name)
        if attribute is not None:
            return attribute.name
    return None


def related_value(
    ref: MemberRef, base_url: str, related_types: dict[str, ResourceType]
) -> dict[str, Any]:
    value: dict[str, Any] = {"value": ref.value}
    target_type = related_types.get(ref.resource_type)
    if target_type is not None:
        value["$ref"] = location(base_url, target_type, ref.value)
    if ref.display:
        value["display"] = ref.display
    value["type"] = ref.type
    return value


@dataclass(frozen=True)
class Projection:
    """Which attributes a response returns (RFC 7644 §3.4.2.5, §3.9)."""

    resource_type: ResourceType
    attributes: frozenset[tuple[str, str, str]] = frozenset()
    excluded: frozenset[tuple[str, str, str]] = frozenset()

    @classmethod
    def parse(
        cls,
        resource_type: ResourceType,
        attributes: Sequence[str] = (),
        excluded: Sequence[str] = (),
    ) -> Projection:
        """Resolve the comma-separated lists; unknown paths raise ``invalidPath``."""
        return cls(
            resource_type,
            frozenset(_path_key(resource_type, path) for path in attributes),
            frozenset(_path_key(resource_type, path) for path in excluded),
        )

    def returns(self, attribute: Attribute) -> bool:
        """Whether the top-level ``attribute`` appears in the response."""
        return self._decide(attribute, (attribute.schema, attribute.name.lower(), ""))

    def returns_sub_attribute(self, attribute: Attribute, name: str) -> bool:
        """Whether the response holds the sub-attribute ``name`` of ``attribute``."""
        sub = attribute.sub_attribute(name)
        if sub is None or not self.returns(attribute):
            return False
        return self._decide(
            sub, (attribute.schema, attribute.name.lower(), sub.name.lower())
        )

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        """Return the projected copy of a full representation.

        Nested values may be shared with ``body``; neither is changed later.
        """
        if not (self.attributes or self.excluded) and _top_level_only(
            self.resource_type
        ):
            return self._default(body)

        result: dict[str, Any] = {"schemas": body["schemas"]}
        for key, value in body.items():
            if key == "schemas":
                continue
            extension = self.resource_type.extension(key)
            if extension is not None and extension is not self.resource_type.schema:
                projected = self._project_complex(value, extension.attributes)
                if projected:
                    result[key] = projected
                continue
            attribute = self._top_attribute(key)
            if attribute is not None and self.returns(attribute):
                result[key] = self._project_value(attribute, value)

        core = self.resource_type.schema.id
        result["schemas"] = [s for s in body["schemas"] if s == core or s in result]
        return result

    def _default(self, body: dict[str, Any]) -> dict[str, Any]:
        """What :meth:`apply` returns when the request names no attributes.

        Only for resource types whose ``never`` and ``request`` attributes are all
        top-level core ones, so that nothing below the top needs a look.
        """
        rt = self.resource_type
        shown = rt.returned_by_default
        result: dict[str, Any] = {"schemas": body["schemas"]}
        for key, value in body.items():
            if key in shown:
                result[key] = value
                continue
            if key == "schemas":
                continue
            if ":" in key and rt.extension(key) not in (None, rt.schema):
                if value:
                    result[key] = value
                continue
            path = rt.top_level_path(None, key)
            if path is not None and path.attribute.returned not in HIDDEN:
                result[key] = value

        core = rt.schema.id
        result["schemas"] = [s for s in body["schemas"] if s == core or s in result]
        return result

    def _top_attribute(self, name: str) -> Attribute | None:
        rt = self.resource_type
        return rt.common.attribute(name) or rt.schema.attribute(name)

    def _project_value(self, attribute: Attribute, value: Any) -> Any:
        if not attribute.is_complex:
            return value
        if attribute.multi_valued:
            return self._project_items(attribute, value)
        return self._project_items(attribute, [value])[0]

    def _project_items(
        self, attribute: Attribute, items: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The values of a complex attribute holding the returned sub-attributes.

        Each sub-attribute is decided once for all values (a Group's members can
        be many), and a value that keeps every key is shared, not copied.
        """
        by_name = {d.name.lower(): d for d in attribute.sub_attributes}
        kept: dict[str, bool] = {}

        def keeps(key: str) -> bool:
            known = kept.get(key)
            if known is None:
                definition = by_name.get(key.lower())
                known = definition is None or self._decide(
                    definition,
                    (attribute.schema, attribute.name.lower(), definition.name.lower()),
                )
                kept[key] = known
            return known

        return [
            item
            if all(map(keeps, item))
            else {k: v for k, v in item.items() if keeps(k)}
            for item in items
        ]

    def _project_complex(
        self, value: dict[str, Any], definitions: Sequence[Attribute]
    ) -> dict[str, Any]:
        """An extension's attributes, each projected as a top-level one."""
        by_name = {d.name.lower(): d for d in definitions}
        result: dict[str, Any] = {}
        for key, item in value.items():
            definition = by_name.get(key.lower())
            if definition is None:
                result[key] = item
                continue
            key_tuple = (definition.schema, definition.name.lower(), "")
            if self._decide(definition, key_tuple):
                result[key] = self._project_value(definition, item)
        return result

    def _decide(self, attribute: Attribute, key: tuple[str, str, str]) -> bool:
        if attribute.returned == "always":
            return True
        if attribute.returned == "never":
            return False

        parent_key = (key[0], key[1], "")
        named = key in self.attributes or (
            key[2] != "" and parent_key in self.attributes
        )
        named = named or any(a[:2] == key[:2] for a in self.attributes if not key[2])
        if attribute.returned == "request":
            return key in self.attributes
        if self.attributes:
            return named
        return key not in self.excluded and parent_key not in self.excluded


def _top_level_only(resource_type: ResourceType) -> bool:
    """Whether only top-level core attributes are ``never`` or ``request`` ones."""
    known = _TOP_LEVEL_ONLY.get(resource_type.id)
    if known is not None and known[0] is resource_type:
        return known[1]

    nested = [
        sub
        for schema in (resource_type.common, resource_type.schema)
        for attribute in schema.attributes
        for sub in attribute.sub_attributes
    ]
    for extension, _required in resource_type.extensions:
        for attribute in extension.attributes:
            nested += [attribute, *attribute.sub_attributes]
    answer = all(attribute.returned not in HIDDEN for attribute in nested)
    _TOP_LEVEL_ONLY[resource_type.id] = (resource_type, answer)
    return answer


def _path_key(resource_type: ResourceType, path: str) -> tuple[str, str, str]:
    resolved = resource_type.resolve(path.strip())
    sub = resolved.sub_attribute.name.lower() if resolved.sub_attribute else ""
    return (resolved.attribute.schema, resolved.attribute.name.lower(), sub)
