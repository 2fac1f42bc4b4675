"""The read rule of a release policy: may one attribute leave the hub, and how.

For each attribute or sub-attribute the answer is one of

- ``"yes"``: released for every User;
- ``"consent"``: ``sensitive``, released only for a User whose granted consent
  matches the client (:mod:`scimserver.policy.consent_scope`);
- ``"no"``: never released to this client.

It is decided, first rule that applies winning:

1. ``id`` and ``meta.resourceType``, ``meta.location``, ``meta.version`` are
   always released (RFC 7643 §3.1: ``id`` is returned always; the others keep
   versioning and addressing working); ``meta.created`` and
   ``meta.lastModified`` follow the rules like any attribute.
2. An attribute that is ``returned: never`` (``password``) is never released.
3. A path denied by ``read.deny``, or whose attribute is denied, is not released.
4. A path named (itself or its attribute) in ``read.with_consent`` is released
   under consent, whatever its classification.
5. A ``sensitive`` path is released under consent if the policy names it (or
   its attribute) in ``read.attributes``; otherwise not at all.
6. A path named in ``read.attributes`` (itself or its attribute) is released.
7. A path whose classification is in ``read.classifications`` is released.
8. Anything else is not. An attribute missing from the data dictionary counts
   as ``restricted``: released only when named.

A whole complex attribute is released only as far as its least released
sub-attribute, so a filter such as ``emails pr`` cannot probe a hidden part.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from scimserver.policy.dictionary import DataDictionary, DictionaryError
from scimserver.policy.policy_paths import (
    PathKey,
    canonical_path,
    key_of,
    parent_key,
    parse_key,
)
from scimserver.scim.schema import COMMON_SCHEMA, AttributePath, ResourceType

if TYPE_CHECKING:
    from scimserver.policy.policy_document import PolicyDocument

logger = logging.getLogger(__name__)

Decision = Literal["yes", "no", "consent"]

_STRICTNESS: dict[Decision, int] = {"no": 0, "consent": 1, "yes": 2}
_ALWAYS_RELEASED = {
    ("id", ""),
    ("meta", "resourcetype"),
    ("meta", "location"),
    ("meta", "version"),
}


def classification_of(dictionary: DataDictionary, path: AttributePath) -> str | None:
    """The dictionary classification of ``path``; None when it has no entry."""
    try:
        entry = dictionary.entry(
            path.attribute.schema, path.attribute, path.sub_attribute
        )
    except DictionaryError:
        return None
    return entry.classification


def strictest(decisions: list[Decision]) -> Decision:
    """The least released of several decisions (``"yes"`` for none)."""
    return min(decisions, key=_STRICTNESS.__getitem__, default="yes")


class ReadRules:
    """Decides, once per path, what a policy releases."""

    def __init__(self, document: PolicyDocument, dictionary: DataDictionary) -> None:
        self.classifications = frozenset(document.read_classifications)
        self.named = frozenset(parse_key(p) for p in document.read_attributes)
        self.denied = frozenset(parse_key(p) for p in document.read_deny)
        self.consented = frozenset(parse_key(p) for p in document.read_with_consent)
        self.dictionary = dictionary
        self._decided: dict[PathKey, Decision] = {}
        self._whole: dict[PathKey, bool] = {}
        self._whole_keys: dict[str, frozenset[str]] = {}

    def decide(self, path: AttributePath) -> Decision:
        """The decision for a path; for a whole complex one, its strictest part."""
        attribute = path.attribute
        if path.sub_attribute is not None or not attribute.sub_attributes:
            return self.leaf(path)
        parts = [
            self.leaf(AttributePath(path.schema, attribute, sub, path.core_schema))
            for sub in attribute.sub_attributes
        ]
        return strictest(parts)

    def whole(self, path: AttributePath) -> bool:
        """Whether every part of ``path`` is released to every User (cached)."""
        key = key_of(path)
        found = self._whole.get(key)
        if found is None:
            found = self._whole[key] = self.decide(path) == "yes"
        return found

    def whole_keys(self, resource_type: ResourceType) -> frozenset[str]:
        """The body keys of core and common attributes :meth:`whole` releases."""
        found = self._whole_keys.get(resource_type.id)
        if found is None:
            paths = resource_type.top_level_paths
            found = frozenset(p.attribute.name for p in paths if self.whole(p))
            self._whole_keys[resource_type.id] = found
        return found

    def never_released(self, path: AttributePath) -> bool:
        """Whether no part of ``path`` is released, under any consent."""
        attribute = path.attribute
        if path.sub_attribute is not None or not attribute.sub_attributes:
            return self.leaf(path) == "no"
        return all(
            self.leaf(AttributePath(path.schema, attribute, sub, path.core_schema))
            == "no"
            for sub in attribute.sub_attributes
        )

    def leaf(self, path: AttributePath) -> Decision:
        """The decision for a simple attribute or one sub-attribute."""
        key = key_of(path)
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decided[key] = self._decide_leaf(path, key)
        return decided

    def _decide_leaf(self, path: AttributePath, key: PathKey) -> Decision:
        if path.attribute.schema == COMMON_SCHEMA and key[1:] in _ALWAYS_RELEASED:
            return "yes"
        if "never" in (path.attribute.returned, path.target.returned):
            return "no"
        if key in self.denied or parent_key(key) in self.denied:
            return "no"
        if key in self.consented or parent_key(key) in self.consented:
            return "consent"

        named = key in self.named or parent_key(key) in self.named
        classification = classification_of(self.dictionary, path)
        if classification is None:
            logger.warning(
                "no data dictionary entry for %s; released only when named",
                canonical_path(path),
            )
        if classification == "sensitive":
            return "consent" if named else "no"
        if named or classification in self.classifications:
            return "yes"
        return "no"
