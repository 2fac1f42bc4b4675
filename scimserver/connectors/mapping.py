"""Attribute mappings: how a hub resource becomes a downstream SCIM document.

A mapping is a JSON document with a list of rules per resource type::

    {
      "User": [
        {"to": "userName", "from": "userName", "transform": "lower"},
        {"to": "externalId", "transform": "pseudonym"},
        {"to": "displayName", "from": ["name.givenName", "name.familyName"],
         "transform": "join", "separator": " "},
        {"to": "emails[type eq \\"work\\"].value",
         "from": "emails[type eq \\"work\\"].value"},
        {"to": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
         "transform": "constant", "value": "Learning"}
      ]
    }

Paths are ``attribute``, ``attribute.sub``, an extension attribute prefixed by
its schema URN, or ``attribute[key eq "value"].sub`` to pick (when reading) or
make (when writing) one value of a multi-valued attribute (RFC 7644 §3.10
path syntax, ``eq`` only). Transforms: ``copy`` (the default), ``lower``,
``upper``, ``constant`` (``value``), ``join`` (``from`` is a list, joined with
``separator``, a space by default) and ``pseudonym`` (the resource's pairwise
pseudonym in the connector's sector, :mod:`scimserver.policy.pseudonyms`,
computed from the hub id even when the policy does not release the id).

Rules read the payload *after* the connector's release policy: what the policy
withholds is absent, so a rule cannot send it. A rule whose sources are all
absent sets nothing. A resource type without rules is sent as released, minus
the attributes the service provider assigns (``id``, ``meta``) and the derived
``groups``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

CORE_SCHEMAS = {
    "User": "urn:ietf:params:scim:schemas:core:2.0:User",
    "Group": "urn:ietf:params:scim:schemas:core:2.0:Group",
}
TRANSFORMS = ("copy", "lower", "upper", "constant", "join", "pseudonym")
#: Attributes the downstream server assigns or derives (RFC 7643 §3.1, §4.1.2).
ASSIGNED = frozenset({"id", "meta", "groups"})

_PATH = re.compile(
    r"(?:(?P<urn>urn:[^\[\]\s]+):)?"
    r"(?P<attribute>[A-Za-z$][\w$-]*)"
    r"(?:\[(?P<key>[A-Za-z][\w-]*) eq (?P<match>\"[^\"]*\"|true|false)\])?"
    r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?"
)

#: Returns the pseudonym of the resource being mapped.
PseudonymOf = Callable[[], str]


class MappingError(ValueError):
    """A mapping document that is not valid; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MappingPath:
    """A parsed attribute path of a mapping rule."""

    urn: str | None
    attribute: str
    key: str | None = None
    match: str | bool | None = None
    sub: str | None = None

    @classmethod
    def parse(cls, text: str) -> MappingPath:
        """Parse ``text``; raise ValueError when it is not a mapping path."""
        found = _PATH.fullmatch(text.strip())
        if found is None:
            raise ValueError(f"invalid attribute path {text!r}")
        match: str | bool | None = found["match"]
        if match in ("true", "false"):
            match = match == "true"
        elif isinstance(match, str):
            match = match[1:-1]
        return cls(found["urn"], found["attribute"], found["key"], match, found["sub"])

    def read(self, payload: Mapping[str, Any]) -> Any:
        """The value at this path in ``payload``, or None."""
        section = payload if self._is_core(payload) else _get(payload, self.urn or "")
        value = _get(section, self.attribute)
        if isinstance(value, list):
            value = self._pick(value)
        if self.sub is None:
            return value
        return _get(value, self.sub)

    def write(self, document: dict[str, Any], value: Any) -> None:
        """Set ``value`` at this path in ``document``, making what is missing."""
        section = document
        if self.urn is not None and not self.urn.startswith(
            "urn:ietf:params:scim:schemas:core:"
        ):
            section = document.setdefault(self.urn, {})
        if self.key is not None:
            items = section.setdefault(self.attribute, [])
            item = self._find(items)
            if item is None:
                item = {self.key: self.match}
                items.append(item)
            item[self.sub or "value"] = value
        elif self.sub is not None:
            section.setdefault(self.attribute, {})[self.sub] = value
        else:
            section[self.attribute] = value

    def _is_core(self, payload: Mapping[str, Any]) -> bool:
        return self.urn is None or (
            self.urn not in payload
            and self.urn.startswith("urn:ietf:params:scim:schemas:core:")
        )

    def _pick(self, items: list[Any]) -> Any:
        """The value a filter selects, else the primary one, else the first."""
        if self.key is not None:
            return self._find(items)
        primary = [i for i in items if isinstance(i, dict) and i.get("primary")]
        chosen = primary or items
        return chosen[0] if chosen else None

    def _find(self, items: list[Any]) -> dict[str, Any] | None:
        for item in items:
            if not isinstance(item, dict) or self.key is None:
                continue
            value = _get(item, self.key)
            if isinstance(value, str) and isinstance(self.match, str):
                if value.lower() == self.match.lower():
                    return item
            elif value == self.match:
                return item
        return None


@dataclass(frozen=True)
class Rule:
    """One mapping rule: where a downstream attribute's value comes from."""

    to: MappingPath
    sources: tuple[MappingPath, ...] = ()
    transform: str = "copy"
    value: Any = None
    separator: str = " "

    def evaluate(self, payload: Mapping[str, Any], pseudonym_of: PseudonymOf) -> Any:
        """The value this rule gives, or None when its sources are absent."""
        if self.transform == "constant":
            return self.value
        if self.transform == "pseudonym":
            return pseudonym_of()

        values = [source.read(payload) for source in self.sources]
        present = [v for v in values if v is not None and v != ""]
        if not present:
            return None
        if self.transform == "join":
            return self.separator.join(str(v) for v in present)
        if self.transform == "lower":
            return str(present[0]).lower()
        if self.transform == "upper":
            return str(present[0]).upper()
        return present[0]


@dataclass(frozen=True)
class AttributeMapping:
    """A validated mapping: rules per resource type."""

    rules: Mapping[str, tuple[Rule, ...]]

    def apply(
        self,
        resource_type: str,
        payload: Mapping[str, Any],
        pseudonym_of: PseudonymOf,
    ) -> dict[str, Any]:
        """The downstream document for ``payload`` (a released hub resource)."""
        rules = self.rules.get(resource_type)
        if not rules:
            return passthrough(resource_type, payload)

        document: dict[str, Any] = {}
        for rule in rules:
            value = rule.evaluate(payload, pseudonym_of)
            if value is not None:
                rule.to.write(document, value)
        return with_schemas(resource_type, document)


#: The mapping used while a connector has no active version.
DEFAULT_MAPPING = AttributeMapping(rules={})


def passthrough(resource_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The released payload less what the downstream server assigns itself."""
    document = {k: v for k, v in payload.items() if k not in ASSIGNED}
    document.pop("schemas", None)
    return with_schemas(resource_type, document)


def with_schemas(resource_type: str, document: dict[str, Any]) -> dict[str, Any]:
    """Add ``schemas``: the core schema and each extension the document holds."""
    extensions = [key for key in document if key.startswith("urn:")]
    return {"schemas": [CORE_SCHEMAS[resource_type], *extensions], **document}


def parse_mapping(source: Mapping[str, Any]) -> AttributeMapping:
    """Validate a mapping document; raise :class:`MappingError` naming each fault."""
    problems: list[str] = []
    rules: dict[str, tuple[Rule, ...]] = {}
    for resource_type, entries in source.items():
        if resource_type not in CORE_SCHEMAS:
            problems.append(f"unknown resource type {resource_type!r}")
            continue
        if not isinstance(entries, list):
            problems.append(f"{resource_type}: a list of rules is expected")
            continue
        parsed = [
            _rule(entry, f"{resource_type}[{index}]", problems)
            for index, entry in enumerate(entries)
        ]
        rules[resource_type] = tuple(rule for rule in parsed if rule is not None)
    if problems:
        raise MappingError(problems)
    return AttributeMapping(rules=rules)


def _rule(entry: Any, where: str, problems: list[str]) -> Rule | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{where}: a rule is an object")
        return None
    transform = entry.get("transform", "copy")
    sources = entry.get("from", [])
    sources = [sources] if isinstance(sources, str) else sources
    faults = _rule_faults(entry, transform, sources)
    listed = sources if isinstance(sources, list) else []
    try:
        to = MappingPath.parse(str(entry.get("to", "")))
        parsed = tuple(MappingPath.parse(str(s)) for s in listed)
    except ValueError as error:
        faults.append(str(error))
    else:
        if to.urn is None and to.attribute in ASSIGNED:
            faults.append(f"'{to.attribute}' is assigned by the downstream server")

    if faults:
        problems.extend(f"{where}: {fault}" for fault in faults)
        return None
    return Rule(
        to=to,
        sources=parsed,
        transform=transform,
        value=entry.get("value"),
        separator=str(entry.get("separator", " ")),
    )


def _rule_faults(entry: Mapping[str, Any], transform: Any, sources: Any) -> list[str]:
    """What is wrong with a rule's keys, transform and sources."""
    faults: list[str] = []
    unknown = set(entry) - {"to", "from", "transform", "value", "separator"}
    if unknown:
        faults.append(f"unknown keys {', '.join(sorted(unknown))}")
    if not isinstance(sources, list):
        faults.append("'from' is a path or a list of paths")
    if transform not in TRANSFORMS:
        faults.append(f"transform must be one of {', '.join(TRANSFORMS)}")
    elif transform in ("copy", "lower", "upper", "join") and not sources:
        faults.append(f"transform {transform!r} needs 'from'")
    elif transform == "constant" and "value" not in entry:
        faults.append("transform 'constant' needs 'value'")
    return faults


def _get(container: Any, name: str) -> Any:
    """Case-insensitive attribute lookup (RFC 7643 §2.1)."""
    if not isinstance(container, Mapping):
        return None
    if name in container:
        return container[name]
    lowered = name.lower()
    for key, value in container.items():
        if key.lower() == lowered:
            return value
    return None
