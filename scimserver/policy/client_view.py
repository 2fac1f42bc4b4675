"""What one client sees of the SCIM store: its release policy, applied to requests.

The SCIM views and the write service (:mod:`scimserver.scim.writes`, which Bulk
shares) ask :func:`current_view` for the authenticated client's view and go
through it at every step where data could leave or enter:

- addressing: a pseudonym in a URL or a filter becomes the User id it stands
  for, and a User outside the client's cohort does not exist for it (404);
- queries: ``filter`` and ``sortBy`` on withheld attributes are refused, and the
  cohort joins every query as SQL;
- reads: every body is projected by :meth:`ReleasePolicy.project` with the
  consents in effect of its User, loaded once per page; a read that releases
  ``restricted`` or ``sensitive`` attributes is audited;
- writes: attributes outside ``write.attributes`` are refused before anything is
  stored, and a PUT keeps what the client was never shown.

Outside a request (the CLI, demo data, background jobs) there is no view and
nothing is filtered: those callers act for the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from scimserver.audit.events import audit
from scimserver.consent.records import granted_consents
from scimserver.db import get_session
from scimserver.models import Client, Membership, Resource
from scimserver.policy.client_policies import policy_document
from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.pseudonym_register import register, user_for
from scimserver.policy.pseudonymous_view import is_user_type, pseudonymise
from scimserver.policy.pseudonyms import derive_key
from scimserver.policy.read_audit import AuditedAttributes
from scimserver.policy.release import ReleasePolicy
from scimserver.scim.errors import InvalidPath, NotFound
from scimserver.scim.filter import filter_clause
from scimserver.scim.schema import ResourceType, SchemaRegistry
from scimserver.scim.store import ResourceStore
from scimserver.scim.store_statements import PEER

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.release"


@dataclass
class _Release:
    """Per application: the schemas, the dictionary and the policies built so far."""

    registry: SchemaRegistry
    dictionary: DataDictionary
    pseudonym_key: bytes
    policies: dict[tuple[str, str | None], ReleasePolicy]
    audits: dict[tuple[str, str | None], AuditedAttributes]


def init_app(app: Flask, registry: SchemaRegistry) -> None:
    """Load the data dictionary once; policies are built on first use per digest."""
    settings = app.config["SETTINGS"]
    app.extensions[EXTENSION_KEY] = _Release(
        registry=registry,
        dictionary=DataDictionary.load(settings.schema_dir),
        pseudonym_key=derive_key(settings.secret_key),
        policies={},
        audits={},
    )


def data_dictionary() -> DataDictionary:
    """The data dictionary of the current application."""
    return _release().dictionary


def release_policy_for(client: Client) -> ReleasePolicy:
    """The release policy in force for ``client`` (the default when it has none)."""
    release = _release()
    key = (client.name, client.policy_digest)
    policy = release.policies.get(key)
    if policy is None:
        document = policy_document(client, release.registry, release.dictionary)
        policy = ReleasePolicy.for_client(
            document,
            client.name,
            release.dictionary,
            pseudonym_key=release.pseudonym_key,
        )
        release.policies[key] = policy
    return policy


def current_view() -> ClientView | None:
    """The view of the client authenticated for this request; None outside one."""
    if not has_request_context():
        return None
    view: ClientView | None = g.get("client_view")
    if view is not None:
        return view
    client: Client | None = g.get("client")
    if client is None:
        return None
    policy = release_policy_for(client)
    audited = _audited_for(client, policy)
    view = ClientView(policy, get_session(), audited.dictionary, audited)
    g.client_view = view
    return view


def _audited_for(client: Client, policy: ReleasePolicy) -> AuditedAttributes:
    """What reads under ``policy`` audit, kept as long as the policy is."""
    release = _release()
    key = (client.name, client.policy_digest)
    audited = release.audits.get(key)
    if audited is None or audited.policy is not policy:
        audited = AuditedAttributes(policy, release.dictionary)
        release.audits[key] = audited
    return audited


def load_visible(store: ResourceStore, resource_id: str) -> Resource:
    """The resource a URL names, as the current client may address it, or 404."""
    view = current_view()
    if view is None:
        return store.get(resource_id)
    resource = store.get(view.resolve_id(store.resource_type, resource_id))
    view.check_visible(store.resource_type, resource, resource_id)
    return resource


class ClientView:
    """One client's release policy bound to the request's database session."""

    def __init__(
        self,
        policy: ReleasePolicy,
        session: Session,
        dictionary: DataDictionary,
        audited: AuditedAttributes,
    ) -> None:
        self.policy = policy
        self.session = session
        self.dictionary = dictionary
        self.audited = audited
        self._sanctioned: set[tuple[str, frozenset[str]]] = set()

    def resolve_id(self, resource_type: ResourceType, resource_id: str) -> str:
        """The stored id behind the id the client uses in a URL.

        A pseudonymous client addresses Users by pseudonym only; a real id, or a
        pseudonym never shown to its sector, names nothing.
        """
        sector = self.policy.sector
        if sector is None or not is_user_type(resource_type):
            return resource_id
        user_id = user_for(self.session, sector, resource_id)
        if user_id is None:
            raise NotFound(f"{resource_type.name} {resource_id} not found.")
        return user_id

    def shown_id(self, resource_type: ResourceType, resource_id: str) -> str:
        """The id under which the client sees a resource; registers a pseudonym."""
        sector = self.policy.sector
        if sector is None or not is_user_type(resource_type):
            return resource_id
        shown = self.policy.subject_id(resource_id)
        register(self.session, sector, {shown: resource_id})
        return shown

    def check_visible(
        self, resource_type: ResourceType, resource: Resource, shown_id: str
    ) -> None:
        """Raise 404 for a User outside the client's cohort, as if it did not exist."""
        cohort = self.policy.cohort_group()
        if cohort is None or not is_user_type(resource_type):
            return
        member = select(Membership.member_id).where(
            Membership.group_id == cohort, Membership.member_id == resource.id
        )
        if self.session.scalar(member) is None:
            raise NotFound(f"{resource_type.name} {shown_id} not found.")

    def where(
        self, resource_type: ResourceType, filter_text: str | None
    ) -> ColumnElement[bool] | None:
        """The SQL condition of a list query: the checked filter and the cohort.

        RFC 7644 §3.4.2.2: a filter on an attribute the client may not read is a
        400 ``invalidFilter`` before any resource is matched.
        """
        conditions: list[ColumnElement[bool]] = []
        if filter_text:
            tree = self.policy.check_filter(resource_type, filter_text)
            tree = self.policy.address_filter(resource_type, tree, self._pseudonym)
            conditions.append(filter_clause(resource_type, tree))
        cohort = self._cohort_condition(resource_type, Resource)
        if cohort is not None:
            conditions.append(cohort)
        return and_(*conditions) if conditions else None

    def releases_whole(self, resource_type: ResourceType, key: str) -> bool:
        """Whether the top-level ``key`` leaves whole, with its values unchanged.

        Not for a pseudonymous client, which sees User ids replaced.
        """
        if self.policy.sector is not None:
            return False
        return key in self.policy.rules.whole_keys(resource_type)

    def member_condition(self) -> ColumnElement[bool] | None:
        """Which members of a Group the client may see listed: cohort Users only."""
        cohort = self._cohort_condition(None, PEER)
        if cohort is None:
            return None
        return or_(PEER.resource_type != "User", cohort)

    def check_sort(
        self, resource_types: Sequence[ResourceType], sort_by: str | None
    ) -> None:
        """RFC 7644 §3.4.2.3: refuse ``sortBy`` on what the client may not read."""
        if not sort_by:
            return
        for resource_type in resource_types:
            try:
                resource_type.resolve(sort_by)
            except InvalidPath:
                if len(resource_types) == 1:
                    raise
                continue
            self.policy.check_sort(resource_type, sort_by)

    def release(
        self, resource_type: ResourceType, bodies: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Project full representations for the client; record what left.

        Pseudonyms shown for the first time are registered, and a release of
        ``restricted`` or ``sensitive`` attributes is audited (who, which
        attributes, which resources). Both are committed at once, so that a
        read leaves its trace even when it changes nothing else.
        """
        consents = self._consents(resource_type, [body["id"] for body in bodies])
        released, issued = [], {}
        for body in bodies:
            projected, shown = self.policy.release(
                resource_type, body, consents.get(body["id"], ())
            )
            released.append(projected)
            issued.update(shown)

        recorded = self._register(issued)
        recorded |= self._audit_read(resource_type, released, bodies)
        if recorded:
            self.session.commit()
        return released

    def check_write(self, resource_type: ResourceType, changed: Iterable[str]) -> None:
        """Refuse (403) a write of attributes outside ``write.attributes``.

        Writes that change the same attributes, as the POSTs of a Bulk request
        mostly do, are checked once per request.
        """
        key = (resource_type.name, frozenset(changed))
        if key in self._sanctioned:
            return
        self.policy.check_write(resource_type, key[1])
        self._sanctioned.add(key)

    def check_delete(self, resource_type: ResourceType) -> None:
        """Refuse (403) a DELETE the policy does not allow."""
        self.policy.check_delete(resource_type)

    def keep_withheld(
        self, resource_type: ResourceType, resource: Resource, after: dict[str, Any]
    ) -> dict[str, Any]:
        """RFC 7644 §3.5.1: a PUT keeps what the client could not read.

        A pseudonymous client sends back the pseudonyms it was shown (a
        ``manager``, say); they become User ids again first, so that an unchanged
        reference does not count as a change.
        """
        if self.policy.sector is not None:
            after = pseudonymise(resource_type, after, self._real_id)
        consents = self._consents(resource_type, [resource.id]).get(resource.id, ())
        return self.policy.keep_withheld(
            resource_type, resource.attributes, after, consents
        )

    def _consents(
        self, resource_type: ResourceType, ids: list[str]
    ) -> dict[str, Sequence[Any]]:
        """The consents in effect of these Users, when the policy can use them."""
        if not is_user_type(resource_type) or not self.policy.needs_consents():
            return {}
        return dict(granted_consents(self.session, ids, now=datetime.now(UTC)))

    def _register(self, issued: dict[str, str]) -> bool:
        sector = self.policy.sector
        if sector is None or not issued:
            return False
        return register(self.session, sector, issued) > 0

    def _audit_read(
        self,
        resource_type: ResourceType,
        released: list[dict[str, Any]],
        bodies: Sequence[dict[str, Any]],
    ) -> bool:
        """Audit a read that released restricted, sensitive or consented attributes."""
        document = self.policy.document
        if not (document.read_attributes or document.read_with_consent):
            return False  # Only public and internal data can be released.
        attributes: set[str] = set()
        resources: list[str] = []
        for projected, body in zip(released, bodies, strict=True):
            found = self.audited.in_body(resource_type, projected)
            if found:
                attributes |= found
                resources.append(body["id"])
        if not resources:
            return False

        audit(
            f"{resource_type.name.lower()}.read",
            resource_type=resource_type.name,
            attributes=attributes,
            detail={"resources": resources},
            session=self.session,
        )
        return True

    def _cohort_condition(
        self, resource_type: ResourceType | None, entity: Any
    ) -> ColumnElement[bool] | None:
        cohort = self.policy.cohort_group()
        if cohort is None:
            return None
        if resource_type is not None and not is_user_type(resource_type):
            return None
        member = aliased(Membership)
        return exists().where(member.group_id == cohort, member.member_id == entity.id)

    def _real_id(self, shown: str) -> str:
        """The User id behind a pseudonym; anything else is kept as sent."""
        return self._pseudonym(shown) or shown

    def _pseudonym(self, shown: str) -> str | None:
        sector = self.policy.sector
        return None if sector is None else user_for(self.session, sector, shown)


def _release() -> _Release:
    release: _Release = current_app.extensions[EXTENSION_KEY]
    return release
