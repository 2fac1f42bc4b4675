"""Storage of SCIM resources: rows, their value index, and group memberships.

Every method runs inside the caller's session; the caller commits, so each request
applies all of its changes or none.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    ScalarResult,
    SQLColumnExpression,
    TableClause,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from scimserver.models import Membership, Resource, ResourceValue, UtcDateTime
from scimserver.scim.errors import (
    ConcurrentChange,
    InvalidValue,
    NotFound,
    UniquenessError,
)
from scimserver.scim.schema import ResourceType
from scimserver.scim.store_statements import (
    GROUPS_OF,
    GROUPS_OF_RESOURCE,
    INSERT_RESOURCE_ROWS,
    INSERT_VALUE_ROWS,
    LARGE_GROUPS,
    MEMBER_ID_PAGE,
    MEMBER_IDS_OF,
    MEMBER_PAGE,
    MEMBER_TYPES,
    MEMBERS_OF,
    PRESENT_MEMBERS,
    RESOURCE_BY_ID,
    RESOURCE_COLUMNS,
    RESOURCE_WITH_GROUPS_BY_ID,
    TOUCH,
    TYPES_TOTAL,
    USER_NAME_CLASH,
    USER_NAME_PAIRS_TAKEN,
    USER_NAMES_TAKEN,
    VALUE_ROWS,
)
from scimserver.scim.value_index import ValueRow, index_values

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One page of a list or search result (RFC 7644 §3.4.2.4)."""

    total: int
    resources: Sequence[Resource]
    #: The groups of each resource, when the query read them with the page.
    groups: Mapping[str, list[MemberRef]] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberRef:
    """A group member or a user's group, as shown in ``members`` and ``groups``."""

    value: str
    resource_type: str
    display: str | None
    type: str


class ResourceStore:
    """Reads and writes the resources of one resource type."""

    def __init__(self, session: Session, resource_type: ResourceType) -> None:
        self.session = session
        self.resource_type = resource_type
        #: Groups read with a resource by :meth:`get`, for :meth:`groups_of`.
        self._groups_read: dict[str, list[MemberRef]] = {}

    def get(self, resource_id: str) -> Resource:
        """Return the resource with ``resource_id`` or raise 404.

        A resource type that shows ``groups`` (User) reads them in the same
        query, and :meth:`groups_of` answers from it: a GET in one round trip.
        A store serves one request, in which a User's own writes never change
        its groups.
        """
        values = {"resource_id": resource_id}
        if not shows_groups(self.resource_type):
            resource = self.session.scalars(RESOURCE_BY_ID, values).one_or_none()
        else:
            row = self.session.execute(RESOURCE_WITH_GROUPS_BY_ID, values).one_or_none()
            resource = None if row is None else row[0]
            if row is not None:
                self._groups_read[resource_id] = _group_refs(row[1])
        if resource is None or resource.resource_type != self.resource_type.name:
            raise NotFound(f"{self.resource_type.name} {resource_id} not found.")
        return resource

    def create(
        self, document: dict[str, Any], members: list[dict[str, Any]] | None
    ) -> Resource:
        """Insert a new resource with its values and members."""
        now = datetime.now(UTC)
        resource = Resource(
            id=str(uuid.uuid4()),
            resource_type=self.resource_type.name,
            created=now,
            last_modified=now,
        )
        self._assign(resource, document)
        self.session.add(resource)
        self._flush_new(resource)

        self._write_values(resource)
        if members:
            self._add_members(resource.id, members)
        logger.debug(
            "created resource_type=%s id=%s", resource.resource_type, resource.id
        )
        return resource

    def create_all(
        self, new: Sequence[tuple[dict[str, Any], list[dict[str, Any]] | None]]
    ) -> list[Resource]:
        """Insert new resources (documents and members) with one INSERT per table.

        For Bulk: check the userNames first with :meth:`first_clash`; the unique
        index still refuses a clash, with 409 for the lot. The resources returned
        are not in the session: reading one again loads it from the database.
        """
        now = datetime.now(UTC)
        resources = [self._new(document, now) for document, _members in new]
        try:
            self._insert_many(INSERT_RESOURCE_ROWS, [_row(r) for r in resources])
        except IntegrityError as error:
            raise UniquenessError(
                "A unique attribute value is already taken."
            ) from error

        values = [
            {**row, "resource_id": resource.id}
            for resource in resources
            for row in index_values(self.resource_type, resource.attributes)
        ]
        self._insert_many(INSERT_VALUE_ROWS, values)
        for resource, (_document, members) in zip(resources, new, strict=True):
            if members:
                self._add_members(resource.id, members)
        logger.debug(
            "created resource_type=%s count=%d", self.resource_type.name, len(new)
        )
        return resources

    def first_clash(self, documents: Sequence[dict[str, Any]]) -> int | None:
        """Where the first document is whose userName is already taken, if any.

        RFC 7643 §4.1.1: userName is unique, compared case-insensitively; taken by
        a stored resource or by an earlier document of ``documents``. One query.
        """
        names = [_user_name_key(document) for document in documents]
        wanted = sorted({name for name in names if name is not None})
        if not wanted:
            return None
        with self.session.no_autoflush:
            taken = set(self._taken(wanted))

        for position, name in enumerate(names):
            if name in taken:
                return position
            if name is not None:
                taken.add(name)
        return None

    def replace(
        self,
        resource: Resource,
        document: dict[str, Any],
        members: list[dict[str, Any]] | None,
    ) -> Resource:
        """Replace the attributes (and, when given, all members) of ``resource``."""
        before, user_name = resource.attributes, resource.user_name
        self._assign(resource, document)
        old_key = None if user_name is None else user_name.lower()
        if _user_name_key(document) != old_key:
            self._check_unique(resource)
        self._touch(resource)
        self._flush()

        self._rewrite_values(resource, before)
        if members is not None:
            self.remove_all_members(resource)
            self._add_members(resource.id, members)
        logger.debug(
            "replaced resource_type=%s id=%s", resource.resource_type, resource.id
        )
        return resource

    def delete(self, resource: Resource) -> None:
        """Delete ``resource``; its values and memberships go with it."""
        self.session.execute(
            delete(ResourceValue).where(ResourceValue.resource_id == resource.id)
        )
        self.session.execute(
            delete(Membership).where(
                (Membership.group_id == resource.id)
                | (Membership.member_id == resource.id)
            )
        )
        self.session.delete(resource)
        self.session.flush()
        logger.debug(
            "deleted resource_type=%s id=%s", resource.resource_type, resource.id
        )

    def touch(self, resource: Resource) -> None:
        """Record a change that did not rewrite the document, such as new members.

        Membership rows cannot be lost to a concurrent change, so the version is
        raised in SQL without the optimistic check that document writes need.
        """
        now = datetime.now(UTC)
        self.session.execute(TOUCH, {"resource_id": resource.id, "now": now})
        self.session.refresh(resource, ["version", "last_modified"])

    def add_members(self, group: Resource, members: Iterable[dict[str, Any]]) -> None:
        """Add members to ``group``; members already present are left alone."""
        self._add_members(group.id, list(members))

    def remove_members(self, group: Resource, member_ids: Iterable[str]) -> int:
        """Remove the given members of ``group``; return how many rows went."""
        ids = list(member_ids)
        if not ids:
            return 0
        result = self.session.execute(
            delete(Membership).where(
                Membership.group_id == group.id, Membership.member_id.in_(ids)
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def remove_all_members(self, group: Resource) -> None:
        """Remove every member of ``group``."""
        self.session.execute(delete(Membership).where(Membership.group_id == group.id))

    def remove_members_matching(
        self, group: Resource, where: ColumnElement[bool]
    ) -> int:
        """Remove the members of ``group`` whose membership matches ``where``.

        One DELETE in SQL: the matching members are never loaded into Python.
        """
        result = self.session.execute(
            delete(Membership).where(Membership.group_id == group.id, where)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def members_of(
        self,
        group_ids: Sequence[str],
        visible: ColumnElement[bool] | None = None,
        *,
        display: bool = True,
    ) -> dict[str, list[MemberRef]]:
        """Return the direct members of each group, in one query.

        ``visible``, a condition on :data:`PEER`, leaves out members it rejects.
        Without ``display`` the members come without display names, read from
        the membership table alone (a Group can have 100,000 members).
        """
        found: dict[str, list[MemberRef]] = {group_id: [] for group_id in group_ids}
        values = {"group_ids": list(group_ids)}
        if visible is None and not display:
            for group_id, member_id, member_type in self.session.execute(
                MEMBER_IDS_OF, values
            ):
                found[group_id].append(
                    MemberRef(member_id, member_type, None, member_type)
                )
            return found

        query = MEMBERS_OF if visible is None else MEMBERS_OF.where(visible)
        for (
            group_id,
            member_id,
            member_type,
            display_name,
            user_name,
        ) in self.session.execute(query, values):
            shown = display_name or user_name if display else None
            found[group_id].append(
                MemberRef(member_id, member_type, shown, member_type)
            )
        return found

    def groups_larger_than(self, group_ids: Sequence[str], size: int) -> list[str]:
        """Those of the groups with more than ``size`` direct members."""
        values = {"group_ids": list(group_ids), "size": size}
        return list(self.session.scalars(LARGE_GROUPS, values))

    def member_page(
        self,
        group_id: str,
        after: str,
        limit: int,
        visible: ColumnElement[bool] | None = None,
        *,
        display: bool = True,
    ) -> list[MemberRef]:
        """Up to ``limit`` direct members of a group with ids after ``after``.

        In id order, the order of :meth:`members_of`; ``visible`` and
        ``display`` as there.
        """
        values = {"group_id": group_id, "after": after, "limit": limit}
        if visible is None and not display:
            rows = self.session.execute(MEMBER_ID_PAGE, values)
            return [MemberRef(member_id, kind, None, kind) for member_id, kind in rows]

        query = MEMBER_PAGE if visible is None else MEMBER_PAGE.where(visible)
        return [
            MemberRef(
                member_id, kind, display_name or user_name if display else None, kind
            )
            for member_id, kind, display_name, user_name in self.session.execute(
                query, values
            )
        ]

    def keep_groups_read(self, groups: Mapping[str, list[MemberRef]]) -> None:
        """Let :meth:`groups_of` answer from groups read with a page."""
        self._groups_read.update(groups)

    def groups_of(self, member_ids: Sequence[str]) -> dict[str, list[MemberRef]]:
        """Return the groups each resource is a direct member of, in one query.

        Resources read by :meth:`get` need no query.
        """
        read = self._groups_read
        found = {member_id: list(read.get(member_id, ())) for member_id in member_ids}
        unread = [member_id for member_id in member_ids if member_id not in read]
        if not unread:
            return found
        rows = self.session.execute(GROUPS_OF, {"member_ids": unread})
        for member_id, group_id, display_name in rows:
            found[member_id].append(
                MemberRef(group_id, "Group", display_name, "direct")
            )
        return found

    def _taken(self, user_names: list[str]) -> ScalarResult[str]:
        """Which of the lower-cased ``user_names`` resources of the type hold."""
        type_name = self.resource_type.name
        if self._on_postgresql():
            pairs = [(type_name, name) for name in user_names]
            return self.session.scalars(USER_NAME_PAIRS_TAKEN, {"pairs": pairs})
        values = {"resource_type": type_name, "user_names": user_names}
        return self.session.scalars(USER_NAMES_TAKEN, values)

    def _on_postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _new(self, document: dict[str, Any], now: datetime) -> Resource:
        """A resource not yet stored, as :meth:`create` would insert it."""
        resource = Resource(
            id=str(uuid.uuid4()),
            resource_type=self.resource_type.name,
            created=now,
            last_modified=now,
            version=1,
        )
        self._assign(resource, document)
        return resource

    def _insert_many(self, statement: Insert, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``: as one JSON document on PostgreSQL, else executemany."""
        if not rows:
            return
        if not self._on_postgresql():
            self.session.execute(insert(statement.table), rows)
            return
        _times_as_text(rows, statement.table)
        self.session.execute(statement, {"rows": rows})

    def _assign(self, resource: Resource, document: dict[str, Any]) -> None:
        resource.attributes = document
        resource.external_id = document.get("externalId")
        resource.user_name = document.get("userName")
        resource.display_name = document.get("displayName")

    def _touch(self, resource: Resource) -> None:
        """Mark a change; the UPDATE this causes also raises the version."""
        resource.last_modified = max(datetime.now(UTC), resource.last_modified)

    def _check_unique(self, resource: Resource) -> None:
        """RFC 7643 §4.1.1: userName is unique, compared case-insensitively."""
        if resource.user_name is None:
            return
        values = {
            "resource_type": resource.resource_type,
            "user_name": resource.user_name.lower(),
            "resource_id": resource.id,
        }
        with self.session.no_autoflush:
            clash = self.session.scalar(USER_NAME_CLASH, values)
        if clash is not None:
            raise UniquenessError(f"userName '{resource.user_name}' is already taken.")

    def _flush_new(self, resource: Resource) -> None:
        """Insert ``resource``: the unique index alone refuses a taken userName.

        No query beforehand: a clash is rare, and the index must refuse it anyway
        when two requests create the same userName at once.
        """
        try:
            self.session.flush()
        except IntegrityError as error:
            taken = resource.user_name
            detail = (
                f"userName '{taken}' is already taken."
                if taken is not None
                else "A unique attribute value is already taken."
            )
            raise UniquenessError(detail) from error

    def _flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as error:
            raise UniquenessError(
                "A unique attribute value is already taken."
            ) from error
        except StaleDataError as error:
            raise ConcurrentChange(
                "The resource was changed by another request at the same time."
            ) from error

    def _write_values(self, resource: Resource) -> None:
        rows = index_values(self.resource_type, resource.attributes)
        if rows:
            self.session.execute(
                VALUE_ROWS.insert(),
                [{**row, "resource_id": resource.id} for row in rows],
            )

    def _rewrite_values(self, resource: Resource, before: dict[str, Any]) -> None:
        """Replace the value rows of the attributes whose rows differ from ``before``.

        A PATCH of ``active`` rewrites one row, not every e-mail and name (on
        PostgreSQL each text row also costs trigram index entries). The rows of
        unchanged attributes are trusted to follow this release's indexing
        rules; ``scimserver db reindex`` rebuilds them after a release that
        changes those (:mod:`.reindex`).
        """
        old = _rows_by_attribute(index_values(self.resource_type, before))
        new = _rows_by_attribute(index_values(self.resource_type, resource.attributes))
        changed = sorted(
            key for key in old.keys() | new.keys() if old.get(key) != new.get(key)
        )
        if not changed:
            return

        self.session.execute(
            delete(ResourceValue).where(
                ResourceValue.resource_id == resource.id,
                ResourceValue.attribute.in_(changed),
            )
        )
        rows = [
            {**row, "resource_id": resource.id}
            for key in changed
            for row in new.get(key, ())
        ]
        if rows:
            self.session.execute(VALUE_ROWS.insert(), rows)

    def _add_members(self, group_id: str, members: list[dict[str, Any]]) -> None:
        wanted = {str(m["value"]) for m in members}
        if not wanted:
            return
        if group_id in wanted:
            raise InvalidValue("A group cannot be a member of itself.")

        rows = self.session.execute(MEMBER_TYPES, {"ids": sorted(wanted)})
        found = {resource_id: type_name for resource_id, type_name in rows}
        missing = sorted(wanted - found.keys())
        if missing:
            raise InvalidValue(
                f"members refer to unknown resources: {', '.join(missing)}."
            )
        self._check_member_types(members, found)

        present = set(
            self.session.scalars(
                PRESENT_MEMBERS, {"group_id": group_id, "ids": sorted(wanted)}
            )
        )
        new_rows = [
            {
                "group_id": group_id,
                "member_id": member_id,
                "member_type": found[member_id],
            }
            for member_id in sorted(wanted - present)
        ]
        if new_rows:
            self.session.execute(insert(Membership), new_rows)

    def _check_member_types(
        self, members: list[dict[str, Any]], found: dict[str, str]
    ) -> None:
        for member in members:
            declared = member.get("type")
            actual = found[str(member["value"])]
            if declared is not None and str(declared).lower() != actual.lower():
                raise InvalidValue(
                    f"member {member['value']} is a {actual}, not a {declared}."
                )


def _row(resource: Resource) -> dict[str, Any]:
    """The columns of a new resource, for a Core INSERT."""
    return {column.key: getattr(resource, column.key) for column in RESOURCE_COLUMNS}


def _times_as_text(rows: list[dict[str, Any]], table: TableClause) -> None:
    """Write the timestamps of ``rows`` in place as naive UTC text, for JSON.

    :class:`UtcDateTime` stores them so; JSON has no timestamps of its own.
    """
    names = [c.key for c in table.columns if isinstance(c.type, UtcDateTime)]
    for row in rows:
        for name in names:
            value = row[name]
            if value is not None:
                row[name] = value.astimezone(UTC).replace(tzinfo=None).isoformat()


def _group_refs(pairs: str | list[list[str]] | None) -> list[MemberRef]:
    """The groups of :data:`RESOURCE_WITH_GROUPS_BY_ID`, ordered as ``GROUPS_OF``."""
    decoded = json.loads(pairs) if isinstance(pairs, str) else pairs or []
    return [
        MemberRef(group_id, "Group", display_name, "direct")
        for group_id, display_name in sorted(decoded)
    ]


def _rows_by_attribute(rows: list[ValueRow]) -> dict[str, list[ValueRow]]:
    grouped: dict[str, list[ValueRow]] = {}
    for row in rows:
        grouped.setdefault(row["attribute"], []).append(row)
    return grouped


def _user_name_key(document: dict[str, Any]) -> str | None:
    user_name = document.get("userName")
    return user_name.lower() if isinstance(user_name, str) else None


def search_resources(
    session: Session,
    condition: ColumnElement[bool],
    order_by: Sequence[SQLColumnExpression[Any]],
    offset: int,
    limit: int,
    every_of: Sequence[str] = (),
    with_groups: bool = False,
) -> Page:
    """Load one page of the resources matching ``condition`` and count them all.

    A page that ends before ``limit`` holds the last match, so its position
    gives the count; only a full page (or an empty one past the start) needs
    ``count(*)``, which for a filter matching one User is half the work.
    ``every_of`` names the resource types when ``condition`` matches every
    resource of them and nothing else: the counts that triggers keep then give
    the total.

    ``with_groups`` reads each resource's groups in the same query on
    PostgreSQL, where a second query costs a round trip; SQLite runs a page's
    one ``GROUPS_OF`` query faster than a subquery per row.
    """
    resources: list[Resource] = []
    groups: dict[str, list[MemberRef]] = {}
    with_groups = with_groups and session.get_bind().dialect.name == "postgresql"
    if limit > 0:
        columns = (Resource, GROUPS_OF_RESOURCE) if with_groups else (Resource,)
        query = (
            select(*columns)
            .where(condition)
            .order_by(*order_by, Resource.id)
            .offset(offset)
            .limit(limit)
        )
        if with_groups:
            for resource, pairs in session.execute(query):
                resources.append(resource)
                groups[resource.id] = _group_refs(pairs)
        else:
            resources = list(session.scalars(query))
    if len(resources) < limit and (resources or offset == 0):
        return Page(offset + len(resources), resources, groups)

    return Page(count_resources(session, condition, every_of), resources, groups)


def shows_groups(resource_type: ResourceType) -> bool:
    """Whether resources of the type show the groups they belong to (User)."""
    return resource_type.schema.attribute("groups") is not None


def count_resources(
    session: Session, condition: ColumnElement[bool], every_of: Sequence[str] = ()
) -> int:
    """How many resources match ``condition`` (see :func:`search_resources`)."""
    if every_of:
        total = session.scalar(TYPES_TOTAL, {"resource_types": list(every_of)})
    else:
        query = select(func.count()).select_from(Resource).where(condition)
        total = session.scalar(query)
    return int(total or 0)
