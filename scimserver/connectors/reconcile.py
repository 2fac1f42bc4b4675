"""``connectors sync``: make a downstream SCIM server hold what the hub says.

For Users, then Groups, with the downstream read by paged GETs
(``startIndex``/``count``, RFC 7644 §3.4.2.4):

1. Walk the downstream resources. Each one linked to a hub resource is compared
   with the document the connector would push now: a drifted one is updated
   (a Group's members too), and one the connector should no longer hold
   (deleted, deprovisioned, out of scope or consent) gets the leave action:
   ``on_leave`` for Users, DELETE for Groups. Downstream resources the hub
   never linked are counted as not managed and left alone: they may belong to
   another source, and a hub resource that matches one by ``userName`` (or
   ``displayName``) is linked to it in step 2, by the 409 path of a create.
2. Walk the hub's resources by keyset: each one the connector should hold and
   that is unlinked, or linked to a resource not seen downstream, is created.
3. Report what was (or, in a dry run, would be) done.

A dry run sends only GETs and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from scimserver.connectors.hub_view import HubView
from scimserver.connectors.links import DEACTIVATED, links_by_downstream_id
from scimserver.connectors.push_models import DownstreamLink
from scimserver.connectors.scim_client import DownstreamFailure
from scimserver.connectors.scim_push import ScimPushConnector, pushed_paths

logger = logging.getLogger(__name__)

RESOURCE_TYPES = ("User", "Group")


@dataclass
class Tally:
    """What a sync did to the resources of one type."""

    created: int = 0
    updated: int = 0
    left: int = 0
    unchanged: int = 0
    unmanaged: int = 0

    def line(self, left: str) -> str:
        """``3 created, 1 updated, ...``; ``left`` names the leave action."""
        return (
            f"{self.created} created, {self.updated} updated, {self.left} {left}, "
            f"{self.unchanged} unchanged, {self.unmanaged} not managed by the hub"
        )


@dataclass
class SyncReport:
    """What a sync did or, in a dry run, would do."""

    dry_run: bool
    tallies: dict[str, Tally] = field(
        default_factory=lambda: {name: Tally() for name in RESOURCE_TYPES}
    )
    failures: list[str] = field(default_factory=list)

    def summary(self, connector: str, leave: str = "deactivate") -> str:
        """Lines for the operator; ``leave`` is the connector's ``on_leave``."""
        mode = "dry run, nothing changed" if self.dry_run else "applied"
        user_left = "deleted" if leave == "delete" else "deactivated"
        return "\n".join(
            [
                f"sync {connector} ({mode}):",
                f"  Users: {self.tallies['User'].line(user_left)}",
                f"  Groups: {self.tallies['Group'].line('deleted')}",
                f"  {len(self.failures)} failed",
            ]
        )


@dataclass
class _Sync:
    """One run of a sync over one resource type."""

    session: Session
    connector: ScimPushConnector
    view: HubView
    report: SyncReport
    resource_type: str
    now: datetime
    #: TODO: the hub ids seen downstream are held in memory (some 100 bytes
    #: each, fine for a hundred thousand Users); millions would need them in a
    #: temporary table so that step 2 could select the unseen ones in SQL.
    seen: set[str] = field(default_factory=set)

    @property
    def tally(self) -> Tally:
        return self.report.tallies[self.resource_type]

    def run(self) -> None:
        size = self.connector.options.page_size
        pages = self.connector.downstream.pages(self.resource_type, size)
        for page in pages:
            ids = [str(resource.get("id")) for resource in page]
            links = links_by_downstream_id(
                self.session, self.connector.name, self.resource_type, ids
            )
            for held in page:
                link = links.get(str(held.get("id")))
                if link is None:
                    self.tally.unmanaged += 1
                else:
                    self.seen.add(link.resource_id)
                    self.reconcile(link, held)

        for hub_ids in self.view.id_pages(self.session, self.resource_type, size):
            for resource_id in hub_ids:
                if resource_id not in self.seen:
                    self.create_missing(resource_id)

    def reconcile(self, link: DownstreamLink, held: dict[str, Any]) -> None:
        """Update a drifted resource, or make one not to be held leave."""
        resource_id = link.resource_id
        payload = self.view.payload(
            self.session, self.resource_type, resource_id, self.now
        )
        if not payload:
            self.leave(resource_id, held)
            return

        document = self.connector.document_for(
            self.session, self.resource_type, resource_id, payload
        )
        if not drifted(document, held, link.pushed_paths):
            self.tally.unchanged += 1
            return
        self.tally.updated += 1
        self.attempt(resource_id, lambda: self.update(link, document, held))

    def update(
        self, link: DownstreamLink, document: dict[str, Any], held: dict[str, Any]
    ) -> None:
        if held.get("active") is False:
            link.state = DEACTIVATED  # so that the update reactivates it
        self.connector.push(
            self.session, self.resource_type, link.resource_id, document
        )
        if self.resource_type == "Group" and self.connector.options.update == "patch":
            self.connector.align_members(self.session, link, held=held)

    def leave(self, resource_id: str, held: dict[str, Any]) -> None:
        if self.resource_type == "User" and held.get("active") is False:
            self.tally.unchanged += 1
            return
        self.tally.left += 1
        self.attempt(
            resource_id,
            lambda: self.connector.leave(
                self.session, self.resource_type, resource_id, force=True
            ),
        )

    def create_missing(self, resource_id: str) -> None:
        payload = self.view.payload(
            self.session, self.resource_type, resource_id, self.now
        )
        if not payload:
            return
        self.tally.created += 1
        document = self.connector.document_for(
            self.session, self.resource_type, resource_id, payload
        )
        self.attempt(
            resource_id,
            lambda: self.connector.push(
                self.session, self.resource_type, resource_id, document
            ),
        )

    def attempt(self, resource_id: str, action: Callable[[], object]) -> None:
        """Run ``action`` unless this is a dry run; record a failure, go on."""
        if self.report.dry_run:
            return
        try:
            action()
        except DownstreamFailure as failure:
            self.report.failures.append(
                f"{self.resource_type} {resource_id}: {failure.detail}"
            )


def synchronise(
    session: Session,
    connector: ScimPushConnector,
    view: HubView,
    *,
    dry_run: bool,
    now: datetime | None = None,
) -> SyncReport:
    """Reconcile the downstream Users and Groups of ``connector`` with the hub.

    Raises :class:`DownstreamFailure` when the downstream cannot be read.
    """
    report = SyncReport(dry_run=dry_run)
    moment = now or datetime.now(UTC)
    for resource_type in RESOURCE_TYPES:
        _Sync(session, connector, view, report, resource_type, moment).run()

    users, groups = report.tallies["User"], report.tallies["Group"]
    logger.info(
        "sync connector=%s dry_run=%s users=%s groups=%s failed=%s",
        connector.name,
        dry_run,
        (users.created, users.updated, users.left),
        (groups.created, groups.updated, groups.left),
        len(report.failures),
    )
    return report


def drifted(
    document: dict[str, Any], held: dict[str, Any], previous: list[str]
) -> bool:
    """Whether the downstream resource differs from the document to push.

    Only what the connector sends is compared (a downstream server adds
    ``meta``, ``$ref`` and defaults of its own); an attribute pushed before
    and no longer sent counts as drift while the downstream still holds it,
    and so does a deactivated User that should be active.
    """
    if held.get("active") is False and document.get("active") is not False:
        return True
    for key, value in document.items():
        if key != "schemas" and not _matches(value, _get(held, key)):
            return True
    gone = set(previous) - set(pushed_paths(document))
    return any(_path_value(held, path) is not None for path in gone)


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            _matches(value, _get(actual, key)) for key, value in expected.items()
        )
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return False
        return all(any(_matches(item, other) for other in actual) for item in expected)
    return bool(expected == actual)


def _get(container: dict[str, Any], name: str) -> Any:
    if name in container:
        return container[name]
    lowered = name.lower()
    return next((v for k, v in container.items() if k.lower() == lowered), None)


def _path_value(held: dict[str, Any], path: str) -> Any:
    """The value at a path of :func:`pushed_paths` in a downstream resource."""
    if path.startswith("urn:"):
        urn, _, name = path.rpartition(":")
        section = _get(held, urn)
        return _get(section, name) if isinstance(section, dict) else None
    name, _, sub = path.partition(".")
    value = _get(held, name)
    if sub:
        return _get(value, sub) if isinstance(value, dict) else None
    return value
