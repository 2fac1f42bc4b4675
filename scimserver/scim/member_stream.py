"""Large Groups answered with their members streamed, a page at a time.

A Group of 100,000 members is about 15 MB of JSON. Built whole, its response
holds every member as Python objects and then as JSON text, per request: a
worker answering a few of them at once grows by hundreds of MB. Past one page
of members, the response is written while the members are read instead, one
page of :data:`PAGE` members at a time, in the order of a whole response.

Only for clients that are released ``members`` whole and see real ids; the
others (a pseudonymous client, a policy that withholds some of each member)
get the whole response built as before. The first page is read with the rest
of the Group; the others while the response is written, each seeing the members
committed by then (on PostgreSQL).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from scimserver.db import get_database
from scimserver.models import Resource
from scimserver.policy.client_view import ClientView
from scimserver.scim.representation import Projection, related_value
from scimserver.scim.responses import SCIM_MEDIA_TYPE
from scimserver.scim.schema import ResourceType
from scimserver.scim.store import MemberRef, ResourceStore

logger = logging.getLogger(__name__)

#: Members read and written at a time; a Group with more is streamed.
PAGE = 5_000
MEMBER_KEYS = ("value", "$ref", "display", "type")


@dataclass(frozen=True)
class MemberPages:
    """How to read a Group's members page by page, and the first page."""

    resource_type: ResourceType
    group_id: str
    visible: ColumnElement[bool] | None
    display: bool
    first: list[MemberRef]

    @property
    def more(self) -> bool:
        """Whether the first page is not all: the response is then streamed."""
        return len(self.first) > PAGE

    def pages(self, session: Session) -> Iterator[list[MemberRef]]:
        """Every member, a page at a time: the first page, then from ``session``."""
        store = ResourceStore(session, self.resource_type)
        page = self.first[:PAGE]
        while page:
            yield page
            if len(page) < PAGE:
                return
            page = store.member_page(
                self.group_id, page[-1].value, PAGE, self.visible, display=self.display
            )


def first_page(
    store: ResourceStore,
    resource_type: ResourceType,
    resource: Resource,
    projection: Projection,
    view: ClientView,
) -> MemberPages | None:
    """Read the first page of a Group's members when they may be streamed."""
    attribute = resource_type.schema.attribute("members")
    if attribute is None or not projection.returns(attribute):
        return None
    if not view.releases_whole(resource_type, attribute.name):
        return None

    display = projection.returns_sub_attribute(attribute, "display")
    visible = view.member_condition()
    first = store.member_page(resource.id, "", PAGE + 1, visible, display=display)
    return MemberPages(resource_type, resource.id, visible, display, first)


def streamed_response(
    head: dict[str, Any],
    members: MemberPages,
    member_json: MemberJson,
    status: int,
    headers: dict[str, str],
) -> Response:
    """The response of ``head`` (a released Group body) with ``members`` after it."""
    chunks = _chunks(head, members, member_json)
    response = Response(
        stream_with_context(chunks), status=status, mimetype=SCIM_MEDIA_TYPE
    )
    response.headers.update(headers)
    return response


@dataclass(frozen=True)
class MemberJson:
    """Each member as the response shows it: the sub-attributes returned."""

    base_url: str
    related_types: dict[str, ResourceType]
    #: Sub-attributes the response leaves out (``display`` is not even read).
    dropped: frozenset[str]

    def values(self, page: list[MemberRef]) -> list[dict[str, Any]]:
        values = [related_value(ref, self.base_url, self.related_types) for ref in page]
        if not self.dropped:
            return values
        return [
            {k: v for k, v in value.items() if k not in self.dropped}
            for value in values
        ]


def member_json(
    resource_type: ResourceType,
    projection: Projection,
    base_url: str,
    related_types: dict[str, ResourceType],
) -> MemberJson:
    """Which sub-attributes of ``members`` the response shows."""
    attribute = resource_type.schema.attribute("members")
    dropped = frozenset(
        name
        for name in MEMBER_KEYS
        if name != "display"
        and (attribute is None or not projection.returns_sub_attribute(attribute, name))
    )
    return MemberJson(base_url, related_types, dropped)


def _chunks(
    head: dict[str, Any], members: MemberPages, member_json: MemberJson
) -> Iterator[bytes]:
    body = json.dumps(head, ensure_ascii=False)
    yield (body[:-1] + ', "members": [').encode()
    written = 0
    # The request's session is closed once the view returns: pages after the
    # first are read in a session of their own, closed with the stream.
    with get_database().sessions() as session:
        for page in members.pages(session):
            text = json.dumps(member_json.values(page), ensure_ascii=False)[1:-1]
            yield (", " + text if written else text).encode()
            written += len(page)
    yield b"]}"
    logger.debug("members streamed group=%s count=%d", members.group_id, written)
