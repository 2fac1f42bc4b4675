"""The ``scim`` connector: pushes Users and Groups to a downstream SCIM server.

What each outbound event becomes downstream (RFC 7644 §3):

- ``created``/``updated``/``consent_granted``: a POST on first sight, whose
  ``id`` is remembered (:mod:`scimserver.connectors.links`); later a PATCH
  (``replace`` of what is sent, ``remove`` of what the hub no longer releases)
  or a PUT when ``update = "put"``. A 409 on POST links the existing resource
  found by ``userName`` (a Group by ``displayName``) and updates it; a 404 on
  update forgets the link and creates the resource again.
- ``deleted``, or a payload the connector may no longer see: the leave action,
  ``active = false`` by PATCH or DELETE (``on_leave``); Groups are deleted.
- ``consent_withdrawn``: an update that removes what the consent covered, or
  the leave action when the event's ``removal`` is ``deprovision``.
- ``members``: one PATCH adding and removing only the members that changed,
  under their downstream ids (RFC 7644 §3.5.2.1, §3.5.2.2): those named in
  ``detail["added"]``/``detail["removed"]``, or, when the event does not name
  them, the difference between the downstream Group and the hub's linked
  members. Members not yet linked are skipped: when their own create is pushed
  they are added to every linked Group they belong to, so the two events may
  arrive in either order.

Answers map to outcomes: 2xx ``delivered``; 408, 429, 5xx, timeouts and
connection failures ``retry`` (with ``Retry-After`` when given); any other 4xx
``rejected`` with the SCIM error ``detail``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from flask import current_app
from sqlalchemy.orm import Session

from scimserver.connectors.base import DeliveryOutcome, OutboundEvent
from scimserver.connectors.config import EXTENSION_KEY as CATALOG_KEY
from scimserver.connectors.links import (
    ACTIVE,
    DEACTIVATED,
    downstream_ids,
    find_link,
    forget_link,
    linked_groups_of,
    linked_members,
    save_link,
)
from scimserver.connectors.mapping import AttributeMapping
from scimserver.connectors.mapping_versions import active_mapping
from scimserver.connectors.push_models import DownstreamLink
from scimserver.connectors.scim_client import (
    ENDPOINTS,
    DownstreamFailure,
    DownstreamScim,
)
from scimserver.connectors.scim_options import ScimPushOptions, parse_options
from scimserver.db import get_database
from scimserver.policy.pseudonym_register import register
from scimserver.policy.pseudonyms import derive_key, pseudonym

logger = logging.getLogger(__name__)

#: The attribute each resource type is found by after a 409 (RFC 7644 §3.3).
MATCH_ATTRIBUTE = {"User": "userName", "Group": "displayName"}


class ScimPushConnector:
    """Delivers outbound events to one downstream SCIM service provider."""

    def __init__(
        self,
        name: str,
        options: ScimPushOptions,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.options = options
        self.downstream = DownstreamScim(options, transport)

    @classmethod
    def from_options(
        cls,
        name: str,
        options: Mapping[str, Any],
        transport: httpx.BaseTransport | None = None,
    ) -> ScimPushConnector:
        """Build the connector from its TOML table (:mod:`.scim_options`)."""
        return cls(name, parse_options(name, options), transport)

    def close(self) -> None:
        """Close the downstream connections."""
        self.downstream.close()

    def deliver(self, event: OutboundEvent) -> DeliveryOutcome:
        """Apply ``event`` downstream once; report failures, never raise them."""
        if event.resource_type not in ENDPOINTS:
            return DeliveryOutcome(
                "rejected", error=f"cannot push {event.resource_type} resources"
            )
        try:
            with self._session() as session:
                self._apply(session, event)
        except DownstreamFailure as failure:
            return _outcome(failure)
        return DeliveryOutcome("delivered")

    def document_for(
        self,
        session: Session,
        resource_type: str,
        resource_id: str,
        payload: Mapping[str, Any],
        mapping: AttributeMapping | None = None,
        *,
        preview: bool = False,
    ) -> dict[str, Any]:
        """The downstream document for a released ``payload``.

        Group members are sent under their downstream ids, and only those
        already linked; ``members`` is left out when the payload has none. A
        User pseudonym that the document shows is registered, so that the
        downstream can address the User by it, unless this is a ``preview``.
        """
        shown: dict[str, str] = {}

        def pseudonym_now() -> str:
            value = self.pseudonym_of(resource_id)
            shown[value] = resource_id
            return value

        chosen = mapping or active_mapping(session, self.name)
        document = chosen.apply(resource_type, payload, pseudonym_now)
        if shown and resource_type == "User" and not preview:
            register(session, self.sector(), shown)
        document.pop("members", None)
        if resource_type == "Group" and "members" in payload:
            members = linked_members(session, self.name, resource_id)
            document["members"] = [{"value": member} for member in members]
        return document

    def pseudonym_of(self, resource_id: str) -> str:
        """The pairwise pseudonym of ``resource_id`` in this connector's sector."""
        secret = derive_key(current_app.config["SETTINGS"].secret_key)
        return pseudonym(secret, self.sector(), resource_id)

    def sector(self) -> str:
        """The ``sector`` option, else the release policy's sector, else the name."""
        if self.options.sector:
            return self.options.sector
        catalog = current_app.extensions.get(CATALOG_KEY)
        config = catalog.get(self.name) if catalog is not None else None
        policy_sector = config.policy.sector if config is not None else None
        return policy_sector or self.name

    def push(
        self,
        session: Session,
        resource_type: str,
        resource_id: str,
        document: dict[str, Any],
        key: str | None = None,
    ) -> str:
        """Create or update one resource downstream; return its downstream id."""
        link = find_link(session, self.name, resource_type, resource_id)
        if link is None:
            return self._create(session, resource_type, resource_id, document, key)
        try:
            self._update(session, link, document, key)
        except DownstreamFailure as failure:
            if failure.status != 404:
                raise
            logger.info(
                "downstream resource gone connector=%s resource_type=%s id=%s",
                self.name,
                resource_type,
                resource_id,
            )
            forget_link(session, self.name, resource_type, resource_id)
            session.commit()
            return self._create(session, resource_type, resource_id, document, key)
        return link.downstream_id

    def leave(
        self,
        session: Session,
        resource_type: str,
        resource_id: str,
        key: str | None = None,
        *,
        force: bool = False,
    ) -> None:
        """Deactivate or delete a resource downstream (``on_leave``).

        A User already deactivated by the connector is left alone unless
        ``force`` says the downstream state is not to be trusted (a sync).
        """
        link = find_link(session, self.name, resource_type, resource_id)
        if link is None:
            return
        if resource_type == "Group" or self.options.on_leave == "delete":
            self.downstream.delete(resource_type, link.downstream_id, key)
            forget_link(session, self.name, resource_type, resource_id)
            session.commit()
            return
        if link.state == DEACTIVATED and not force:
            return

        # RFC 7643 §4.1.1: "active" false keeps the account but stops its use.
        operation = {"op": "replace", "path": "active", "value": False}
        self.downstream.patch(resource_type, link.downstream_id, [operation], key)
        link.state = DEACTIVATED
        session.commit()

    def _apply(self, session: Session, event: OutboundEvent) -> None:
        withdrawn = event.event_type == "consent_withdrawn"
        deprovision = withdrawn and event.detail.get("removal") == "deprovision"
        if event.event_type == "members":
            self._push_members(session, event)
        elif event.event_type == "deleted" or deprovision or not event.payload:
            self.leave(session, event.resource_type, event.resource_id, event.id)
        else:
            document = self.document_for(
                session, event.resource_type, event.resource_id, event.payload
            )
            self.push(
                session, event.resource_type, event.resource_id, document, event.id
            )

    def _create(
        self,
        session: Session,
        resource_type: str,
        resource_id: str,
        document: dict[str, Any],
        key: str | None,
    ) -> str:
        try:
            created = self.downstream.create(resource_type, document, key)
        except DownstreamFailure as failure:
            if failure.status != 409:
                raise
            return self._adopt(session, resource_type, resource_id, document, key)

        downstream_id = _id_of(created)
        save_link(
            session,
            self.name,
            resource_type,
            resource_id,
            downstream_id,
            pushed_paths=pushed_paths(document),
        )
        session.commit()
        if resource_type == "User":
            self._join_linked_groups(session, resource_id, downstream_id, key)
        return downstream_id

    def _adopt(
        self,
        session: Session,
        resource_type: str,
        resource_id: str,
        document: dict[str, Any],
        key: str | None,
    ) -> str:
        """Link the resource that made a POST conflict, then update it."""
        attribute = MATCH_ATTRIBUTE[resource_type]
        value = document.get(attribute)
        if not isinstance(value, str):
            raise DownstreamFailure(f"409 on create and no {attribute} to look up")
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        found = self.downstream.find(resource_type, f'{attribute} eq "{quoted}"')
        if len(found) != 1:
            raise DownstreamFailure(
                f"409 on create, and {len(found)} downstream resources match "
                f"its {attribute}",
                status=409,
            )

        downstream_id = _id_of(found[0])
        logger.info(
            "linked existing downstream resource connector=%s resource_type=%s id=%s",
            self.name,
            resource_type,
            resource_id,
        )
        link = save_link(session, self.name, resource_type, resource_id, downstream_id)
        session.commit()
        self._update(session, link, document, key)
        if resource_type == "User":
            self._join_linked_groups(session, resource_id, downstream_id, key)
        return downstream_id

    def _update(
        self,
        session: Session,
        link: DownstreamLink,
        document: dict[str, Any],
        key: str | None,
    ) -> None:
        body = dict(document)
        if link.resource_type == "User" and link.state == DEACTIVATED:
            body.setdefault("active", True)

        if self.options.update == "put":
            self.downstream.replace(link.resource_type, link.downstream_id, body, key)
        else:
            operations = patch_operations(body, link.pushed_paths)
            if operations:
                self.downstream.patch(
                    link.resource_type, link.downstream_id, operations, key
                )
        link.pushed_paths = sorted(pushed_paths(body))
        link.state = ACTIVE
        session.commit()

    def _push_members(self, session: Session, event: OutboundEvent) -> None:
        """Add and remove only the members that changed (RFC 7644 §3.5.2)."""
        link = find_link(session, self.name, "Group", event.resource_id)
        if link is None:
            if event.payload:
                document = self.document_for(
                    session, "Group", event.resource_id, event.payload
                )
                self.push(session, "Group", event.resource_id, document, event.id)
            return

        if "added" not in event.detail and "removed" not in event.detail:
            self.align_members(session, link, event.id)
            return
        added = _ids(event.detail.get("added"))
        removed = _ids(event.detail.get("removed"))
        operations = member_operations(
            list(downstream_ids(session, self.name, added).values()),
            list(downstream_ids(session, self.name, removed).values()),
        )
        if operations:
            self.downstream.patch("Group", link.downstream_id, operations, event.id)

    def align_members(
        self,
        session: Session,
        link: DownstreamLink,
        key: str | None = None,
        held: Mapping[str, Any] | None = None,
    ) -> bool:
        """Make a downstream Group's members those of the hub that are linked.

        Reads the Group unless ``held`` gives it; sends one PATCH with only the
        differences. Returns whether anything was sent.
        """
        wanted = set(linked_members(session, self.name, link.resource_id))
        current = held or self.downstream.get("Group", link.downstream_id)
        present = {
            str(member.get("value"))
            for member in current.get("members") or []
            if isinstance(member, dict)
        }
        operations = member_operations(
            sorted(wanted - present), sorted(present - wanted)
        )
        if operations:
            self.downstream.patch("Group", link.downstream_id, operations, key)
        return bool(operations)

    def _join_linked_groups(
        self, session: Session, user_id: str, downstream_id: str, key: str | None
    ) -> None:
        """Add a newly linked User to the linked Groups it is a member of."""
        for group_id in linked_groups_of(session, self.name, user_id):
            operations = member_operations([downstream_id], [])
            self.downstream.patch("Group", group_id, operations, key)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with get_database(current_app).sessions() as session:
            yield session


def patch_operations(
    document: dict[str, Any], previous_paths: list[str]
) -> list[dict[str, Any]]:
    """PATCH operations that make the downstream resource hold ``document``.

    One ``replace`` without a path carries every attribute sent (RFC 7644
    §3.5.2.3); a ``remove`` drops each attribute pushed before and no longer
    sent (§3.5.2.2). Group members are left alone: they change incrementally.
    """
    value = {k: v for k, v in document.items() if k not in ("schemas", "members")}
    operations: list[dict[str, Any]] = []
    if value:
        operations.append({"op": "replace", "value": value})
    gone = sorted(set(previous_paths) - set(pushed_paths(document)) - {"members"})
    operations += [{"op": "remove", "path": path} for path in gone]
    return operations


def member_operations(added: list[str], removed: list[str]) -> list[dict[str, Any]]:
    """PATCH operations adding and removing Group members by downstream id."""
    operations: list[dict[str, Any]] = []
    if added:
        values = [{"value": member} for member in added]
        operations.append({"op": "add", "path": "members", "value": values})
    for member in removed:
        path = f'members[value eq "{member}"]'
        operations.append({"op": "remove", "path": path})
    return operations


def pushed_paths(document: Mapping[str, Any]) -> list[str]:
    """The attribute paths a document sets: sub-attributes of complex ones.

    Extension attributes are prefixed with their schema URN; multi-valued
    attributes count as one path, since a ``replace`` sets all their values.
    """
    paths: list[str] = []
    for key, value in document.items():
        if key == "schemas":
            continue
        if key.startswith("urn:") and isinstance(value, dict):
            paths += [f"{key}:{sub}" for sub in value]
        elif isinstance(value, dict):
            paths += [f"{key}.{sub}" for sub in value]
        else:
            paths.append(key)
    return paths


def _ids(values: Any) -> list[str]:
    """Member ids from ``detail``: plain ids or ``{"value": id}`` objects."""
    if not isinstance(values, list):
        return []
    return [
        str(item.get("value")) if isinstance(item, dict) else str(item)
        for item in values
    ]


def _id_of(resource: Mapping[str, Any]) -> str:
    downstream_id = resource.get("id")
    if not isinstance(downstream_id, str) or not downstream_id:
        raise DownstreamFailure("the downstream server answered without an id")
    return downstream_id


def _outcome(failure: DownstreamFailure) -> DeliveryOutcome:
    if failure.retryable:
        return DeliveryOutcome(
            "retry",
            http_status=failure.status,
            error=failure.detail,
            retry_after=failure.retry_after,
        )
    return DeliveryOutcome("rejected", http_status=failure.status, error=failure.detail)
