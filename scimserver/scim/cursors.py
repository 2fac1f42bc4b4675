"""Cursor paging of list and search results (RFC 9865).

A cursor points beside one resource of a result: past the last resource of a
page, or before the first. It holds that resource's sort key and id, and the
next page is read with a keyset condition, ``(sort key, id) > (key, id)`` in the
query's order, never with an offset. Resources created or deleted between two
requests therefore shift no page: a walk returns every resource that exists
throughout it exactly once.

Cursors are opaque to clients (RFC 9865 §2): base64url JSON, signed with
HMAC-SHA256 under the application's secret key. Each carries a digest of the
query it was issued for (resource types, filter and sort) and its expiry time.
A cursor is not encrypted: it shows the sort key of a resource the client has
already been sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    or_,
    select,
)
from sqlalchemy.orm import Session

from scimserver.config import Settings
from scimserver.models import Resource
from scimserver.scim.errors import ExpiredCursor, InvalidCursor, InvalidValue
from scimserver.scim.store import Page, count_resources
from scimserver.scim.value_index import parse_datetime

logger = logging.getLogger(__name__)

#: RFC 9865 §2: cursor values use only unreserved characters (RFC 3986 §2.3).
CURSOR_SYNTAX = re.compile(r"[A-Za-z0-9._~-]+")
#: Derives the signing key from the secret key, for cursors only.
SIGNING_PURPOSE = b"scimserver cursor signature v1"
#: Where a datetime sort value is kept in a cursor's JSON.
DATETIME_TAG = "dateTime"

SortValue = str | int | float | datetime | None


def current_time() -> float:
    """Return the wall-clock time in seconds; cursors expire by it."""
    return time.time()


@dataclass(frozen=True)
class Position:
    """Where a cursor points: beside the resource with this sort value and id.

    ``resource_id`` is None for the start of the result. ``backwards`` asks for
    the page before the position rather than the page after it.
    """

    query_digest: str
    sort_value: SortValue
    resource_id: str | None
    backwards: bool


class CursorCodec:
    """Issues cursors and reads them back, refusing forged or expired ones."""

    def __init__(self, secret_key: str, timeout_seconds: int) -> None:
        self._key = hmac.new(
            secret_key.encode("utf-8"), SIGNING_PURPOSE, hashlib.sha256
        ).digest()
        self.timeout_seconds = timeout_seconds

    def issue(self, position: Position) -> str:
        """Return the cursor for ``position``, valid for the configured timeout."""
        payload = {
            "q": position.query_digest,
            "k": _encode_value(position.sort_value),
            "i": position.resource_id,
            "b": position.backwards,
            "e": math.ceil(current_time() + self.timeout_seconds),
        }
        body = _base64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{_base64(self._sign(body))}"

    def read(self, cursor: str) -> Position:
        """Return the position of ``cursor``; raise invalidCursor or expiredCursor."""
        payload = self._verified_payload(cursor)
        try:
            expires = float(payload["e"])
            position = Position(
                query_digest=str(payload["q"]),
                sort_value=_decode_value(payload["k"]),
                resource_id=None if payload["i"] is None else str(payload["i"]),
                backwards=bool(payload["b"]),
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("cursor with a valid signature but a bad payload")
            raise _invalid() from None

        if current_time() > expires:
            raise ExpiredCursor(
                f"The cursor has expired; request the next page within "
                f"{self.timeout_seconds} seconds, or start again with an empty "
                f"cursor."
            )
        return position

    def _verified_payload(self, cursor: str) -> dict[str, Any]:
        body, _dot, signature = cursor.partition(".")
        if not CURSOR_SYNTAX.fullmatch(cursor) or not signature:
            raise _invalid()
        if not hmac.compare_digest(_base64(self._sign(body)), signature):
            logger.info("cursor refused: its signature does not match")
            raise _invalid()
        try:
            payload = json.loads(_unbase64(body))
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
            raise _invalid() from None
        if not isinstance(payload, dict):
            raise _invalid()
        return payload

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()


@dataclass(frozen=True)
class CursorRequest:
    """A request for one cursor page (RFC 9865 §2): its cursor, decoded.

    ``position`` is None for the first page (an empty ``cursor``).
    """

    codec: CursorCodec
    position: Position | None

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], settings: Settings
    ) -> CursorRequest | None:
        """Read ``cursor`` from URL parameters or a SearchRequest body.

        Returns None when the request asks for index paging. RFC 9865 §2.4: a
        request names one paging method, so ``cursor`` with ``startIndex`` is
        refused.
        """
        cursor = params.get("cursor")
        if cursor is None:
            return None
        if params.get("startIndex") not in (None, ""):
            raise InvalidValue(
                "Use either cursor or startIndex to page through results, not both."
            )
        if not isinstance(cursor, str):
            raise _invalid()

        codec = CursorCodec(settings.secret_key, settings.cursor_timeout_seconds)
        return cls(codec, codec.read(cursor) if cursor else None)


@dataclass(frozen=True)
class Keyset:
    """A query paged by cursor: what it matches, and the order it walks in.

    ``scope`` names the query (resource types, filter and sort); a cursor issued
    for one scope is refused for any other. Ties of ``sort_key`` are broken by
    the resource id.
    """

    scope: str
    condition: ColumnElement[bool]
    sort_key: SQLColumnExpression[Any]
    descending: bool
    count: int
    #: The resource types whose every resource ``condition`` matches, if so.
    every_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class CursorPage(Page):
    """A page read by cursor, with the cursors of the pages beside it."""

    next_cursor: str | None = None
    previous_cursor: str | None = None


def read_page(session: Session, keyset: Keyset, request: CursorRequest) -> CursorPage:
    """Read the page that ``request`` names (RFC 9865 §2).

    ``nextCursor`` is left out only on the last page and ``previousCursor`` on
    the first. ``totalResults`` counts every match, as with index paging.
    """
    digest = _digest(keyset.scope)
    position = request.position or Position(digest, None, None, backwards=False)
    if position.query_digest != digest:
        logger.info("cursor refused: it was issued for another query")
        raise _invalid()

    total = count_resources(session, keyset.condition, keyset.every_of)
    if keyset.count == 0:
        return CursorPage(total, [])

    rows = _walk(session, keyset, position)
    more = len(rows) > keyset.count
    rows = rows[: keyset.count]
    if position.backwards:
        rows.reverse()
    next_cursor, previous_cursor = _neighbours(
        request.codec, digest, position, rows, more
    )
    return CursorPage(
        total,
        [resource for resource, _value in rows],
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
    )


def page_attributes(page: Page, start_index: int) -> dict[str, Any]:
    """The paging attributes of a ListResponse: cursors, or else ``startIndex``."""
    if not isinstance(page, CursorPage):
        return {"startIndex": start_index}
    attributes = {}
    if page.next_cursor:
        attributes["nextCursor"] = page.next_cursor
    if page.previous_cursor:
        attributes["previousCursor"] = page.previous_cursor
    return attributes


def _walk(
    session: Session, keyset: Keyset, position: Position
) -> list[tuple[Resource, SortValue]]:
    """Up to ``count + 1`` rows from ``position``, nearest first."""
    descending = keyset.descending != position.backwards
    columns = _order_columns(keyset.sort_key)
    query = select(Resource, keyset.sort_key).where(keyset.condition)

    if position.resource_id is not None:
        value = position.sort_value
        anchor = [int(value is None), value, position.resource_id]
        query = query.where(_beyond(columns, anchor, descending))

    order = [column.desc() if descending else column.asc() for column in columns]
    query = query.order_by(*order).limit(keyset.count + 1)
    return [(row[0], row[1]) for row in session.execute(query)]


def _order_columns(
    sort_key: SQLColumnExpression[Any],
) -> list[SQLColumnExpression[Any]]:
    """RFC 7644 §3.4.2.3: resources without a value sort last in ascending order.

    The first column flags them with 1, the others with 0.
    """
    return [case((sort_key.is_(None), 1), else_=0), sort_key, Resource.id]


def _beyond(
    columns: Sequence[SQLColumnExpression[Any]],
    anchor: Sequence[Any],
    descending: bool,
) -> ColumnElement[bool]:
    """Rows strictly past ``anchor`` in the order of ``columns``.

    The lexicographic comparison is spelled out column by column, so that a NULL
    sort key ties with NULL only. No value sorts past NULL within the NULL group;
    the flag column before the key orders the groups.
    """
    terms = []
    for n, (column, value) in enumerate(zip(columns, anchor, strict=True)):
        if value is None:
            continue
        ties = [
            earlier.is_not_distinct_from(tied)
            for earlier, tied in zip(columns[:n], anchor[:n], strict=True)
        ]
        past = column < value if descending else column > value
        terms.append(and_(*ties, past))
    return or_(*terms)


def _neighbours(
    codec: CursorCodec,
    digest: str,
    position: Position,
    rows: list[tuple[Resource, SortValue]],
    more: bool,
) -> tuple[str | None, str | None]:
    """The cursors of the pages after and before ``rows``.

    ``more`` tells whether rows lie beyond the page in the walking direction. A
    page reached backwards always has a page after it; when it is empty, its
    next cursor starts the walk again.
    """
    if position.backwards:
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, position.resource_id is not None

    next_cursor = previous_cursor = None
    if has_next:
        after = Position(digest, None, None, backwards=False)
        if rows:
            after = _beside(digest, rows[-1], backwards=False)
        next_cursor = codec.issue(after)
    if has_previous and rows:
        previous_cursor = codec.issue(_beside(digest, rows[0], backwards=True))
    return next_cursor, previous_cursor


def _beside(digest: str, row: tuple[Resource, SortValue], backwards: bool) -> Position:
    resource, sort_value = row
    return Position(digest, sort_value, resource.id, backwards)


def _digest(scope: str) -> str:
    return _base64(hashlib.sha256(scope.encode("utf-8")).digest()[:16])


def _encode_value(value: SortValue) -> Any:
    if isinstance(value, datetime):
        return {DATETIME_TAG: value.isoformat()}
    return value


def _decode_value(value: Any) -> SortValue:
    if isinstance(value, dict):
        moment = parse_datetime(str(value[DATETIME_TAG]))
        if moment is None:
            raise ValueError("unreadable dateTime")
        return moment
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"unexpected sort value of type {type(value).__name__}")


def _base64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unbase64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid() -> InvalidCursor:
    """One answer for every unusable cursor (RFC 9865 §5.2)."""
    return InvalidCursor(
        "The cursor is not valid for this query. Send an empty cursor for the "
        "first page, then the nextCursor or previousCursor of the last response "
        "with the same filter and sort."
    )
