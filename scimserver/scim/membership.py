"""Group membership changes from PATCH, applied as single-row SQL statements.

A group's ``members`` never pass through its document: adding or removing one
member of a group of any size inserts or deletes one row (RFC 7644 §3.5.2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from scimserver.models import Resource
from scimserver.scim.errors import NoTarget
from scimserver.scim.filter import membership_condition
from scimserver.scim.patch import MemberChange, MemberOp
from scimserver.scim.store import ResourceStore

logger = logging.getLogger(__name__)


def apply_member_changes(
    store: ResourceStore, group: Resource, changes: Sequence[MemberChange]
) -> None:
    """Apply the membership changes of one PATCH, in order."""
    for change in changes:
        if change.op in (MemberOp.REMOVE_ALL, MemberOp.REPLACE_ALL):
            store.remove_all_members(group)
        if change.op in (MemberOp.ADD, MemberOp.REPLACE_ALL):
            store.add_members(group, change.values)
        if change.op is MemberOp.REMOVE:
            removed = store.remove_members(group, change.member_ids)
            _check_target(change, removed)
        if change.op is MemberOp.REMOVE_MATCHING and change.value_filter is not None:
            condition = membership_condition(store.resource_type, change.value_filter)
            removed = store.remove_members_matching(group, condition)
            _check_target(change, removed)
            if change.values:
                store.add_members(group, change.values)

    logger.info("members changed group=%s changes=%d", group.id, len(changes))


def _check_target(change: MemberChange, removed: int) -> None:
    """RFC 7644 §3.5.2.3: a filtered replace that matched no member is noTarget."""
    if change.require_match and removed == 0:
        raise NoTarget("No member matches the filter of the replace operation.")
