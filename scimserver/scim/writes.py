"""Writes of one resource: create, replace, patch and delete (RFC 7644 §3.3-§3.6).

The HTTP views and Bulk (:mod:`scimserver.scim.bulk`) both write through these
functions. Each runs inside the caller's session and leaves the commit to the
caller, so a view commits once per request and Bulk once per bulk request.

In a client's request, each write passes the client's release policy
(:mod:`scimserver.policy.client_view`) before anything is stored: the
attributes it changes must be writable for the client, and the resource must be
one the client can see.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from werkzeug.http import parse_etags

from scimserver.audit.events import audit
from scimserver.connectors.outbox import enqueue_change
from scimserver.models import Resource
from scimserver.policy.attribute_changes import changed_paths
from scimserver.policy.client_view import current_view, load_visible
from scimserver.scim.deprovisioning import (
    current_deprovisioning,
    has_active,
    note_reactivation,
    rehire,
    remove,
)
from scimserver.scim.dialects import current_dialect
from scimserver.scim.effective_dates import hold_inactive
from scimserver.scim.errors import PreconditionFailed
from scimserver.scim.membership import apply_member_changes
from scimserver.scim.passwords import protect_secrets
from scimserver.scim.patch import apply_patch
from scimserver.scim.representation import etag, related_attribute
from scimserver.scim.store import ResourceStore
from scimserver.scim.validation import split_members, validate_resource

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewResource:
    """A POST body ready to store: its document, members and changed paths."""

    document: dict[str, Any]
    members: list[dict[str, Any]] | None
    changed: set[str]


def create_resource(store: ResourceStore, payload: dict[str, Any]) -> Resource:
    """RFC 7644 §3.3: validate ``payload`` and store it as a new resource."""
    resource_type = store.resource_type
    dialect = current_dialect()
    payload = dialect.prepare_resource(resource_type, payload)

    document, members = split_members(resource_type, payload)
    rehired = rehire(store, dialect, document, members)
    if rehired is not None:
        changed = changed_paths(resource_type, {}, rehired.attributes)
        _check_write(store, changed | _members_named(members or None))
        _audit_write("rehire", store, rehired, set(rehired.attributes))
        return rehired
    new = _new_resource(store, document, members)
    resource = store.create(new.document, new.members)
    _audit_write("create", store, resource, new.changed)
    return resource


def creates_together(store: ResourceStore) -> bool:
    """Whether POSTs to ``store`` may be prepared first and stored together.

    Not when the client's dialect rehires: each POST may then update a User that
    an earlier one of the same request changed.
    """
    return not (current_dialect().rehires and has_active(store.resource_type))


def prepare_create(store: ResourceStore, payload: dict[str, Any]) -> NewResource:
    """RFC 7644 §3.3: validate a POST body and check the client may write it.

    For Bulk (RFC 7644 §3.7): nothing is stored until :func:`create_all`.
    """
    resource_type = store.resource_type
    payload = current_dialect().prepare_resource(resource_type, payload)
    document, members = split_members(resource_type, payload)
    return _new_resource(store, document, members)


def create_all(store: ResourceStore, news: Sequence[NewResource]) -> list[Resource]:
    """Store resources that :func:`prepare_create` accepted, all or none."""
    resources = store.create_all([(new.document, new.members) for new in news])
    for new, resource in zip(news, resources, strict=True):
        _audit_write("create", store, resource, new.changed)
    return resources


def replace_resource(
    store: ResourceStore,
    resource_id: str,
    payload: dict[str, Any],
    if_match: str | None = None,
) -> Resource:
    """RFC 7644 §3.5.1: replace the attributes (and Group members) of a resource."""
    resource_type = store.resource_type
    resource = load_visible(store, resource_id)
    check_version(resource, if_match)
    payload = current_dialect().prepare_resource(
        resource_type, payload, resource.attributes
    )

    document, members = split_members(resource_type, payload)
    if members is None and related_attribute(resource_type) == "members":
        members = []  # RFC 7644 §3.5.1: PUT replaces members too.
    view = current_view()
    if view is not None:
        document = view.keep_withheld(resource_type, resource, document)
    document = validate_resource(resource_type, document, existing=resource.attributes)
    document, changed = _prepare_update(store, resource, document)
    changed |= _members_named(members)
    _check_write(store, changed)

    store.replace(resource, document, members)
    _audit_write("replace", store, resource, changed)
    return resource


def patch_resource(
    store: ResourceStore,
    resource_id: str,
    body: dict[str, Any],
    if_match: str | None = None,
) -> Resource:
    """RFC 7644 §3.5.2: apply a PatchOp; members change row by row."""
    resource_type = store.resource_type
    resource = load_visible(store, resource_id)
    check_version(resource, if_match)

    body = current_dialect().prepare_patch(resource_type, body)
    result = apply_patch(resource_type, resource.attributes, body)
    document, changed = _prepare_update(store, resource, result.document)
    if result.member_changes:
        changed.add("members")
    _check_write(store, changed)

    if document != resource.attributes:
        store.replace(resource, document, members=None)
    elif result.member_changes:
        store.touch(resource)
    if result.member_changes:
        apply_member_changes(store, resource, result.member_changes)
    _audit_write("patch", store, resource, changed)
    return resource


def delete_resource(
    store: ResourceStore, resource_id: str, if_match: str | None = None
) -> Resource:
    """RFC 7644 §3.6: delete a resource; return it as it was."""
    resource = load_visible(store, resource_id)
    check_version(resource, if_match)
    view = current_view()
    if view is not None:
        view.check_delete(store.resource_type)

    remove(store, resource, current_deprovisioning())
    _audit_write("delete", store, resource, set())
    return resource


def _new_resource(
    store: ResourceStore,
    document: dict[str, Any],
    members: list[dict[str, Any]] | None,
) -> NewResource:
    """Steps every create takes before storing: validate, protect, check policy."""
    resource_type = store.resource_type
    document = validate_resource(resource_type, document)
    document = protect_secrets(resource_type, document)
    document = hold_inactive(resource_type, document)
    changed = changed_paths(resource_type, {}, document)
    changed |= _members_named(members or None)
    _check_write(store, changed)
    return NewResource(document, members, changed)


def _prepare_update(
    store: ResourceStore, resource: Resource, document: dict[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """Steps PUT and PATCH share once the new document is known.

    Hash new secrets, hold the user inactive outside its effective dates, note a
    reactivation, and name the attributes that changed (for the audit log).
    """
    resource_type = store.resource_type
    document = protect_secrets(resource_type, document, resource.attributes)
    document = hold_inactive(resource_type, document)
    note_reactivation(resource, document)
    return document, changed_paths(resource_type, resource.attributes, document)


def _check_write(store: ResourceStore, changed: set[str]) -> None:
    """Refuse (403) a client's write of attributes its policy does not sanction."""
    view = current_view()
    if view is not None:
        view.check_write(store.resource_type, changed)


def _members_named(members: list[dict[str, Any]] | None) -> set[str]:
    return set() if members is None else {"members"}


def _audit_write(
    verb: str, store: ResourceStore, resource: Resource, changed: set[str]
) -> None:
    """Record a write: the resource and the attributes it touched, no values."""
    audit(
        f"{store.resource_type.name.lower()}.{verb}",
        resource_type=store.resource_type.name,
        resource_id=resource.id,
        attributes=changed,
        session=store.session,
    )
    enqueue_change(store.session, store.resource_type.name, resource, verb, changed)


def check_version(resource: Resource, if_match: str | None) -> None:
    """RFC 7644 §3.14: a stale ``If-Match`` (or Bulk ``version``) fails with 412.

    ``if_match`` is the header's text, such as ``W/"3"``; ``*`` or nothing passes.
    """
    tags = parse_etags(if_match)
    if not tags or tags.star_tag or tags.contains_weak(str(resource.version)):
        return
    raise PreconditionFailed(
        f"The resource has version {etag(resource)}; fetch it again."
    )
