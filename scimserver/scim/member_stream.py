"""Large Groups answered with their members streamed, a page at a time.

A Group of 100,000 members is about 15 MB of JSON. Built whole, its response
holds every member as Python objects and then as JSON text, per request: a
worker answering a few of them at once grows by hundreds of MB. Past one page
of members, the response is written while the members are read instead, one
page of :data:`PAGE` members at a time, in the order of a whole response.

The same holds for a list page (GET ``/Groups``, ``.search``): its Groups of
more than a page of members, counted first, are written with their members read
page by page, and the other resources as they are. A page of large Groups thus
costs the memory of one page of members, not of every member of every Group.

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
    """How to read a Group's members page by page, and the first page if read.

    ``first`` holds up to one member more than a page when it was read with the
    Group; None when the members were only counted.
    """

    resource_type: ResourceType
    group_id: str
    visible: ColumnElement[bool] | None
    display: bool
    first: list[MemberRef] | None

    @property
    def more(self) -> bool:
        """Whether the first page is not all: the response is then streamed."""
        return self.first is None or len(self.first) > PAGE

    def pages(self, session: Session) -> Iterator[list[MemberRef]]:
        """Every member, a page at a time: the first page, then from ``session``."""
        store = ResourceStore(session, self.resource_type)
        page = (
            self.first[:PAGE]
            if self.first is not None
            else store.member_page(
                self.group_id, "", PAGE, self.visible, display=self.display
            )
        )
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
    streamable = _streamable(resource_type, projection, view)
    if streamable is None:
        return None

    visible, display = streamable
    first = store.member_page(resource.id, "", PAGE + 1, visible, display=display)
    return MemberPages(resource_type, resource.id, visible, display, first)


def large_groups(
    store: ResourceStore,
    resource_type: ResourceType,
    resources: list[Resource],
    projection: Projection,
    view: ClientView,
) -> dict[str, MemberPages]:
    """The Groups of a list page with more than a page of members, to stream."""
    streamable = _streamable(resource_type, projection, view)
    if streamable is None or not resources:
        return {}

    visible, display = streamable
    ids = [resource.id for resource in resources]
    return {
        group_id: MemberPages(resource_type, group_id, visible, display, None)
        for group_id in store.groups_larger_than(ids, PAGE)
    }


def _streamable(
    resource_type: ResourceType, projection: Projection, view: ClientView
) -> tuple[ColumnElement[bool] | None, bool] | None:
    """Which members the client sees, and whether with display names; None when
    its responses cannot be streamed (members not returned, or not released whole).
    """
    attribute = resource_type.schema.attribute("members")
    if attribute is None or not projection.returns(attribute):
        return None
    if not view.releases_whole(resource_type, attribute.name):
        return None
    display = projection.returns_sub_attribute(attribute, "display")
    return view.member_condition(), display


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


def streamed_list(
    envelope: dict[str, Any],
    resources: list[tuple[dict[str, Any], MemberPages | None]],
    member_json: dict[str, MemberJson],
) -> Response:
    """A ListResponse whose large Groups have their members written page by page.

    ``resources`` pairs each released body with the member pages to append to it
    (its ``members`` left out), or None to write it as it is; ``member_json``
    tells, per resource type, which sub-attributes a member shows.
    """
    chunks = _list_chunks(envelope, resources, member_json)
    return Response(stream_with_context(chunks), mimetype=SCIM_MEDIA_TYPE)


def _chunks(
    head: dict[str, Any], members: MemberPages, member_json: MemberJson
) -> Iterator[bytes]:
    # The request's session is closed once the view returns: pages after the
    # first are read in a session of their own, closed with the stream.
    with get_database().sessions() as session:
        yield from _with_members(head, members, member_json, session)


def _list_chunks(
    envelope: dict[str, Any],
    resources: list[tuple[dict[str, Any], MemberPages | None]],
    member_json: dict[str, MemberJson],
) -> Iterator[bytes]:
    text = json.dumps(envelope, ensure_ascii=False)
    yield (text[:-1] + ', "Resources": [').encode()
    with get_database().sessions() as session:
        for position, (body, members) in enumerate(resources):
            if position:
                yield b", "
            if members is None:
                yield json.dumps(body, ensure_ascii=False).encode()
                continue
            shown = member_json[members.resource_type.name]
            yield from _with_members(body, members, shown, session)
    yield b"]}"


def _with_members(
    head: dict[str, Any],
    members: MemberPages,
    member_json: MemberJson,
    session: Session,
) -> Iterator[bytes]:
    """``head`` (a released Group body without members) and its members.

    Members the client may not see may leave none: ``members`` is then left out,
    as in a response built whole.
    """
    body = json.dumps(head, ensure_ascii=False)
    pages = members.pages(session)
    page = next(pages, None)
    if not page:
        yield body.encode()
        return

    yield (body[:-1] + ', "members": [').encode()
    written = 0
    while page:
        text = json.dumps(member_json.values(page), ensure_ascii=False)[1:-1]
        yield (", " + text if written else text).encode()
        written += len(page)
        page = next(pages, None)
    yield b"]}"
    logger.debug("members streamed group=%s count=%d", members.group_id, written)
