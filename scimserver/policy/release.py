"""The release policy of a client: the one entry point for what leaves the hub.

Every exit asks the same object. SCIM reads project resources with
:meth:`ReleasePolicy.project` and check ``filter``, ``sortBy`` and
``attributes`` with the ``check_*`` methods; SCIM writes check the attributes
they change with :meth:`ReleasePolicy.check_write`. Outbound pushes, webhook
payloads and OIDC claims are to call :meth:`ReleasePolicy.project` too, so a
policy means the same thing wherever data goes.

The policy document is described in :mod:`scimserver.policy.policy_document`,
the read rule in :mod:`scimserver.policy.release_rules`, pseudonyms in
:mod:`scimserver.policy.pseudonyms`.

Errors, where the RFC leaves the choice (RFC 7644 §3.12):

- A filter naming an attribute the client may not read, or may read only under
  consent, is a 400 ``invalidFilter``, as for a ``returned: never`` attribute:
  the filter is refused as a whole, before any User is matched, so the answer
  says nothing about any User's values. A 403 would suggest that the request
  could succeed with other credentials; what fails is this filter.
- ``sortBy`` on such an attribute is a 400 ``invalidValue``, the error
  :mod:`scimserver.scim.sorting` gives for any attribute that cannot be sorted.
- ``attributes`` naming a withheld attribute is not an error: RFC 7644 §3.4.2.5
  returns the attributes asked for that the resource holds, and for this client
  the resource holds no withheld attribute. :meth:`check_attributes_param`
  lists them for the audit log.
- A write of an attribute outside ``write.attributes`` is a 403: the request is
  well formed and the attribute mutable, but this client is not authorised to
  write it. The detail names every refused attribute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from scimserver.policy.attribute_changes import changed_paths
from scimserver.policy.consent_scope import Consent, covers, for_client
from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.filter_paths import FilterUse, filter_uses
from scimserver.policy.policy_document import DEFAULT_POLICY, PolicyDocument
from scimserver.policy.policy_paths import key_of, parent_key, parse_key
from scimserver.policy.pseudonymous_view import (
    ID_OPERATORS,
    is_user_id_path,
    pseudonymise,
    resolve_pseudonyms,
    user_ids_in,
)
from scimserver.policy.pseudonyms import pseudonym
from scimserver.policy.release_rules import Decision, ReadRules
from scimserver.policy.resource_body import is_unassigned, prune, top_level
from scimserver.scim.errors import (
    Forbidden,
    InvalidPath,
    InvalidValue,
    WithheldFilter,
)
from scimserver.scim.filter import Expression, parse_filter
from scimserver.scim.schema import AttributePath, ResourceType

logger = logging.getLogger(__name__)

__all__ = ["Decision", "ReleasePolicy", "changed_paths"]


class ReleasePolicy:
    """What one client may read and write, and under which identifiers."""

    def __init__(
        self,
        document: PolicyDocument,
        client_name: str,
        dictionary: DataDictionary,
        *,
        pseudonym_key: bytes | None = None,
    ) -> None:
        if document.pseudonymous and not pseudonym_key:
            raise ValueError("a pseudonymous policy needs the pseudonym key")
        self.document = document
        self.client_name = client_name
        self.rules = ReadRules(document, dictionary)
        self._writable = frozenset(parse_key(p) for p in document.write_attributes)
        self._pseudonym_key = pseudonym_key or b""

    @classmethod
    def for_client(
        cls,
        document: PolicyDocument | None,
        client_name: str,
        dictionary: DataDictionary,
        *,
        pseudonym_key: bytes | None = None,
    ) -> ReleasePolicy:
        """The client's policy, or :data:`DEFAULT_POLICY` when it has none."""
        chosen = DEFAULT_POLICY if document is None else document
        return cls(chosen, client_name, dictionary, pseudonym_key=pseudonym_key)

    @property
    def recipient(self) -> str:
        """The recipient that consents must name: the client's, unless set."""
        return self.document.recipient or self.client_name

    @property
    def sector(self) -> str | None:
        """The pseudonym sector, or None when the client sees real User ids."""
        if not self.document.pseudonymous:
            return None
        return self.document.sector or self.client_name

    def cohort_group(self) -> str | None:
        """The Group whose members alone the client may see, if any."""
        return self.document.cohort_group

    def needs_consents(self) -> bool:
        """False when no consent can change what the client reads (skip loading)."""
        document = self.document
        named = document.read_attributes or document.read_with_consent
        return bool(document.purposes and named)

    def readable(self, path: AttributePath) -> Decision:
        """Whether ``path`` is released: ``"yes"``, ``"no"`` or ``"consent"``."""
        return self.rules.decide(path)

    def released(self, path: AttributePath, consents: Sequence[Consent]) -> bool:
        """Whether a simple attribute or sub-attribute is released for a User.

        ``consents`` are that User's granted, unexpired consents.
        """
        return self._keeper(consents)(path)

    def project(
        self,
        resource_type: ResourceType,
        body: dict[str, Any],
        consents: Sequence[Consent] = (),
    ) -> dict[str, Any]:
        """Return ``body`` holding only what the client may read of this resource.

        ``consents`` are the granted, unexpired consents of the User that
        ``body`` represents (none for a Group). Withheld attributes,
        sub-attributes and emptied extensions go, with their ``schemas`` entry;
        User ids become pseudonyms for a pseudonymous client.
        """
        projected, _issued = self._project(resource_type, body, consents)
        return projected

    def release(
        self,
        resource_type: ResourceType,
        body: dict[str, Any],
        consents: Sequence[Consent] = (),
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """:meth:`project` and :meth:`issued_pseudonyms` in one pass."""
        return self._project(resource_type, body, consents)

    def subject_id(self, user_id: str) -> str:
        """The identifier under which the client sees the User ``user_id``."""
        if self.sector is None:
            return user_id
        return pseudonym(self._pseudonym_key, self.sector, user_id)

    def issued_pseudonyms(
        self,
        resource_type: ResourceType,
        body: dict[str, Any],
        consents: Sequence[Consent] = (),
    ) -> dict[str, str]:
        """The pseudonyms :meth:`project` shows for ``body``, mapped to User ids.

        Store them in the ``(sector, pseudonym) -> user id`` table so that the
        client can address those Users (see :mod:`scimserver.policy.pseudonyms`).
        """
        _projected, issued = self._project(resource_type, body, consents)
        return issued

    def check_filter(
        self, resource_type: ResourceType, expression: str | Expression
    ) -> Expression:
        """Refuse a filter on what the client may not read; return the parsed tree.

        RFC 7644 §3.4.2.2, §3.12: 400 ``invalidFilter``. Attributes released only
        under consent are refused too: a filter on them would reveal their values
        for Users who gave none. A pseudonymous client may compare User ids only
        with ``eq``, ``ne`` and ``pr``.
        """
        tree = parse_filter(expression) if isinstance(expression, str) else expression
        uses = list(filter_uses(resource_type, tree))

        hidden = sorted(
            {str(u.path) for u in uses if self.rules.decide(u.path) != "yes"}
        )
        if hidden:
            logger.info(
                "filter refused client=%s attributes=%s", self.client_name, hidden
            )
            raise WithheldFilter(
                f"The filter uses {', '.join(hidden)}, which this client may not "
                "read; filter on released attributes only."
            )
        self._check_id_comparisons(resource_type, uses)
        return tree

    def address_filter(
        self,
        resource_type: ResourceType,
        expression: Expression,
        resolve: Callable[[str], str | None],
    ) -> Expression:
        """Translate the pseudonyms a filter compares into User ids.

        ``resolve`` looks a pseudonym up in the client's sector and returns the
        User id, or None. Clients that see real ids get ``expression`` back.
        """
        if self.sector is None:
            return expression
        return resolve_pseudonyms(resource_type, expression, resolve)

    def check_sort(self, resource_type: ResourceType, path: str) -> None:
        """Refuse ``sortBy`` on an attribute the client may not read (400).

        RFC 7644 §3.4.2.3. Sorting by User id is refused for a pseudonymous
        client: the order of ids is the same for every client.
        """
        try:
            resolved = resource_type.resolve(path)
        except InvalidPath as error:
            raise InvalidValue(f"Cannot sort by '{path}': {error.detail}") from None
        value = resolved.attribute.sub_attribute("value")
        if resolved.sub_attribute is None and value is not None:
            resolved = replace(resolved, sub_attribute=value)

        if self.rules.decide(resolved) != "yes":
            raise InvalidValue(
                f"Cannot sort by '{resolved}': this client may not read it."
            )
        if self.sector is not None and is_user_id_path(resource_type, resolved):
            raise InvalidValue(
                f"Cannot sort by '{resolved}': this client sees Users under pseudonyms."
            )

    def check_attributes_param(
        self, resource_type: ResourceType, paths: Iterable[str]
    ) -> list[str]:
        """The paths of ``attributes`` of which nothing is released to the client.

        Not an error (RFC 7644 §3.4.2.5): those attributes are simply absent.
        Unknown paths raise :class:`InvalidPath`, as without a policy.
        """
        return [
            path
            for path in paths
            if self.rules.never_released(resource_type.resolve(path.strip()))
        ]

    def check_write(self, resource_type: ResourceType, changed: Iterable[str]) -> None:
        """Refuse a write that changes attributes outside ``write.attributes``.

        ``changed`` comes from :func:`changed_paths`; call this before storing,
        so that a refused write changes nothing. Raises 403 naming every
        refused attribute.
        """
        refused = sorted(
            {path for path in changed if not self._may_write(resource_type, path)},
            key=str.lower,
        )
        if not refused:
            return
        logger.info("write refused client=%s attributes=%s", self.client_name, refused)
        raise Forbidden(
            f"This client may not write {', '.join(refused)}; nothing was changed."
        )

    def check_delete(self, resource_type: ResourceType) -> None:
        """Refuse a DELETE unless ``write.delete`` names the resource type (403)."""
        if resource_type.name in self.document.write_delete:
            return
        logger.info(
            "delete refused client=%s resource_type=%s",
            self.client_name,
            resource_type.name,
        )
        raise Forbidden(f"This client may not delete {resource_type.name} resources.")

    def keep_withheld(
        self,
        resource_type: ResourceType,
        before: dict[str, Any],
        after: dict[str, Any],
        consents: Sequence[Consent] = (),
    ) -> dict[str, Any]:
        """Carry over into a PUT document what the client could not read.

        RFC 7644 §3.5.1 replaces the whole resource, but a client cannot send
        back what it was never shown; its PUT must not erase it. A withheld
        attribute absent from ``after`` is copied from ``before``, and so is a
        withheld sub-attribute of a singular complex attribute.

        TODO: withheld sub-attributes of a multi-valued complex attribute
        (``emails.display`` denied, ``emails.value`` released) cannot be carried
        over, since values have no identity to pair old with new; such a PUT
        changes them and needs ``emails`` in ``write.attributes``.
        """
        keep = self._keeper(consents)
        withheld = prune(resource_type, before, lambda path: not keep(path))
        result = {k: dict(v) if isinstance(v, dict) else v for k, v in after.items()}
        for located in top_level(resource_type, withheld):
            if located.section is None:
                section = result
            else:
                section = result.setdefault(located.section, {})
                _list_schema(result, located.section)
            current = section.get(located.key)
            if is_unassigned(current):
                section[located.key] = located.value
            elif isinstance(current, dict) and isinstance(located.value, dict):
                section[located.key] = {**located.value, **current}
        return result

    def _project(
        self,
        resource_type: ResourceType,
        body: dict[str, Any],
        consents: Sequence[Consent],
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The projection, and the pseudonyms it shows mapped to User ids.

        Pseudonyms replace ids before withheld attributes go, so that a member's
        ``type`` still tells Users from Groups even when it is withheld.
        """
        keep = self._keeper(consents)
        if self.sector is None:
            return prune(resource_type, body, keep, self.rules), {}

        issued: dict[str, str] = {}

        def to_pseudonym(user_id: str) -> str:
            issued[self.subject_id(user_id)] = user_id
            return self.subject_id(user_id)

        shown = pseudonymise(resource_type, body, to_pseudonym)
        projected = prune(resource_type, shown, keep, self.rules)
        kept = user_ids_in(resource_type, projected)
        return projected, {fake: real for fake, real in issued.items() if fake in kept}

    def _keeper(self, consents: Sequence[Consent]) -> Callable[[AttributePath], bool]:
        """The release test of one User's leaves, given that User's consents."""
        granted = for_client(consents, self.document.purposes, self.recipient)

        def keep(path: AttributePath) -> bool:
            decision = self.rules.leaf(path)
            if decision == "consent":
                return any(covers(consent, path) for consent in granted)
            return decision == "yes"

        return keep

    def _may_write(self, resource_type: ResourceType, text: str) -> bool:
        key = key_of(resource_type.resolve(text))
        return key in self._writable or parent_key(key) in self._writable

    def _check_id_comparisons(
        self, resource_type: ResourceType, uses: list[FilterUse]
    ) -> None:
        if self.sector is None:
            return
        for use in uses:
            if use.operator in ID_OPERATORS:
                continue
            if is_user_id_path(resource_type, use.path):
                raise WithheldFilter(
                    f"'{use.path}' holds pseudonyms for this client: compare it "
                    "with eq, ne or pr only."
                )


def _list_schema(body: dict[str, Any], urn: str) -> None:
    """RFC 7643 §3: an extension present in a body is listed in ``schemas``."""
    schemas = body.get("schemas")
    if isinstance(schemas, list) and urn.lower() not in {s.lower() for s in schemas}:
        body["schemas"] = [*schemas, urn]
