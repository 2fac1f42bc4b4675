"""Which attributes a write changes: the difference between two documents.

PUT (RFC 7644 §3.5.1) and PATCH (§3.5.2) are checked against the client's
writable attributes after the new document is computed and before it is stored,
so a refused write leaves nothing behind. Paths are spelled as SCIM clients write
them (``name.givenName``, ``urn:...:enterprise:2.0:User:manager.value``).

Granularity:

- a simple attribute, single- or multi-valued, changes as a whole; the values of
  a multi-valued attribute are compared without regard to order;
- a singular complex attribute reports each sub-attribute that changed;
- the values of a multi-valued complex attribute have no identity, so the
  values that appear on one side only are found, and every sub-attribute they
  hold is reported: changing an email's ``type`` reports ``emails.type`` and
  ``emails.value`` of that email.

readOnly attributes and sub-attributes (``id``, ``meta``, ``groups``,
``members.display``) are set by the server, not written, and never reported.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace
from typing import Any

from scimserver.policy.policy_paths import PathKey, key_of
from scimserver.policy.resource_body import Located, is_unassigned, top_level
from scimserver.scim.schema import Attribute, AttributePath, ResourceType

logger = logging.getLogger(__name__)


def changed_paths(
    resource_type: ResourceType, before: dict[str, Any], after: dict[str, Any]
) -> set[str]:
    """The attribute paths whose values differ between ``before`` and ``after``."""
    old = _by_key(resource_type, before)
    new = _by_key(resource_type, after)

    changed: set[str] = set()
    for key in old.keys() | new.keys():
        located = old.get(key) or new[key]
        if located.path.attribute.mutability == "readOnly":
            continue
        changed |= _difference(located.path, _value(old, key), _value(new, key))
    return changed


def _by_key(
    resource_type: ResourceType, body: dict[str, Any]
) -> dict[PathKey, Located]:
    return {key_of(located.path): located for located in top_level(resource_type, body)}


def _value(found: dict[PathKey, Located], key: PathKey) -> Any:
    located = found.get(key)
    return None if located is None else located.value


def _difference(path: AttributePath, old: Any, new: Any) -> set[str]:
    attribute = path.attribute
    if not attribute.sub_attributes:
        same = _canonical(attribute, old) == _canonical(attribute, new)
        return set() if same else {str(path)}
    if not attribute.multi_valued:
        return _singular_difference(path, old, new)
    return _multi_valued_difference(path, old, new)


def _singular_difference(path: AttributePath, old: Any, new: Any) -> set[str]:
    old_item, new_item = _written(path.attribute, old), _written(path.attribute, new)
    if old_item is None or new_item is None:
        return {str(path)}
    names = old_item.keys() | new_item.keys()
    return {
        str(replace(path, sub_attribute=path.attribute.sub_attribute(name)))
        for name in names
        if old_item.get(name) != new_item.get(name)
    }


def _multi_valued_difference(path: AttributePath, old: Any, new: Any) -> set[str]:
    old_items = _written_items(path.attribute, old)
    new_items = _written_items(path.attribute, new)
    if old_items is None or new_items is None:
        return {str(path)}

    differing = (old_items - new_items) + (new_items - old_items)
    names = {name for text in differing for name in json.loads(text)}
    if differing and not names:
        return {str(path)}
    return {
        str(replace(path, sub_attribute=path.attribute.sub_attribute(name)))
        for name in names
    }


def _canonical(attribute: Attribute, value: Any) -> Any:
    """A simple value for comparison: unassigned as None, multiple values sorted."""
    if is_unassigned(value):
        return None
    if attribute.multi_valued and isinstance(value, list):
        return sorted(json.dumps(item, sort_keys=True) for item in value)
    return value


def _written(attribute: Attribute, value: Any) -> dict[str, Any] | None:
    """The written sub-attributes of a complex value, by canonical name.

    Returns None when the value is not an object or holds an unknown key, in
    which case the whole attribute counts as changed.
    """
    if is_unassigned(value):
        return {}
    if not isinstance(value, dict):
        return None
    result: dict[str, Any] = {}
    for key, inner in value.items():
        sub = attribute.sub_attribute(key)
        if sub is None:
            return None
        if sub.mutability != "readOnly" and not is_unassigned(inner):
            result[sub.name] = inner
    return result


def _written_items(attribute: Attribute, value: Any) -> Counter[str] | None:
    if is_unassigned(value):
        return Counter()
    if not isinstance(value, list):
        return None
    items = [_written(attribute, item) for item in value]
    if any(item is None for item in items):
        return None
    return Counter(json.dumps(item, sort_keys=True) for item in items if item)
