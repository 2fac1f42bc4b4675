"""Which released attributes make a read worth an audit entry, per release policy.

Releasing a ``restricted`` or ``sensitive`` attribute, or one released only
under consent, is audited by name. The answer depends on the policy, the data
dictionary and the attribute alone, so it is kept for the life of the policy:
bodies of one resource type mostly hold the same keys, and a request then pays
one lookup per body instead of one per attribute.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.policy_paths import canonical_path
from scimserver.policy.release import ReleasePolicy
from scimserver.policy.release_rules import classification_of
from scimserver.scim.schema import AttributePath, ResourceType

logger = logging.getLogger(__name__)

AUDITED_CLASSIFICATIONS = ("restricted", "sensitive")
#: Body key sets and keys remembered per policy; clients choose the keys of what
#: they write, so the memory stays bounded.
MAX_REMEMBERED = 1024

Shape = tuple[object, ...]
Name = tuple[str, str | None, str]


class AuditedAttributes:
    """The audited attributes a released body holds, for one release policy."""

    def __init__(self, policy: ReleasePolicy, dictionary: DataDictionary) -> None:
        self.policy = policy
        self.dictionary = dictionary
        self._shapes: dict[Shape, frozenset[str]] = {}
        self._names: dict[Name, str | None] = {}

    def in_body(
        self, resource_type: ResourceType, body: dict[str, Any]
    ) -> frozenset[str]:
        """The canonical paths of the audited attributes that ``body`` holds."""
        shape = (resource_type.id, *_keys(body))
        found = self._shapes.get(shape)
        if found is not None:
            return found

        names: set[str | None] = set()
        for key, value in body.items():
            if isinstance(value, dict) and ":" in key:
                names.update(self._name(resource_type, key, inner) for inner in value)
            else:
                names.add(self._name(resource_type, None, key))
        found = frozenset(name for name in names if name is not None)
        _remember(self._shapes, shape, found)
        return found

    def _name(
        self, resource_type: ResourceType, section: str | None, key: str
    ) -> str | None:
        """The canonical path of ``key`` if releasing it is audited, else None."""
        name = (resource_type.id, section, key)
        if name in self._names:
            return self._names[name]

        path = resource_type.top_level_path(section, key)
        audited = None
        if path is not None and self._audited(path):
            audited = canonical_path(path)
        _remember(self._names, name, audited)
        return audited

    def _audited(self, path: AttributePath) -> bool:
        classification = classification_of(self.dictionary, path)
        if classification in AUDITED_CLASSIFICATIONS:
            return True
        return self.policy.readable(path) == "consent"


def _keys(body: dict[str, Any]) -> Iterator[object]:
    """The keys of ``body``, each extension's with the keys it holds."""
    for key, value in body.items():
        if isinstance(value, dict) and ":" in key:
            yield key, *value
        else:
            yield key


def _remember(memo: dict[Any, Any], key: object, value: object) -> None:
    if len(memo) < MAX_REMEMBERED:
        memo[key] = value
