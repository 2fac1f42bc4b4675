"""The fixed statements of :mod:`scimserver.scim.store`, built once per process.

Building a SQLAlchemy statement and computing its cache key costs more than
running a small indexed query: several times more for the membership joins. The
statements every request runs are therefore built here once, with their values
as bound parameters (``expanding`` ones for lists), and executed as they are.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    Insert,
    Select,
    Table,
    Text,
    bindparam,
    column,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from scimserver.models import Membership, Resource, ResourceCount, ResourceValue

logger = logging.getLogger(__name__)

#: The other side of a membership (a member or a group), aliased once.
PEER = aliased(Resource, name="peer")

#: The value index as a Core table: rows are inserted without ORM bookkeeping.
VALUE_ROWS = cast(Table, ResourceValue.__table__)

#: The resources as a Core table, for Bulk's inserts of many at once.
RESOURCE_ROWS = cast(Table, Resource.__table__)
#: Its columns, each named as the mapped attribute that holds its value.
RESOURCE_COLUMNS = tuple(RESOURCE_ROWS.columns)


def _insert_json_rows(table: Table) -> Insert:
    """PostgreSQL: an INSERT of many rows, sent as one JSON array of objects.

    The statement stays short whatever the number of rows, and the rows cost one
    ``json.dumps``. A multi-row VALUES (or an array per column) costs the driver
    Python time per value, about as much as the rest of a Bulk create.
    """
    serial = table.autoincrement_column
    columns = [each for each in table.columns if each is not serial]
    records = (
        func.json_to_recordset(bindparam("rows", type_=JSON))
        .table_valued(*(column(c.key, c.type) for c in columns))
        .render_derived(name="given", with_types=True)
    )
    return insert(table).from_select([c.key for c in columns], select(*records.c))


#: Many new resources and value rows at once (PostgreSQL; elsewhere a list of
#: rows goes to the plain INSERT, which the driver runs as executemany).
INSERT_RESOURCE_ROWS = _insert_json_rows(RESOURCE_ROWS)
INSERT_VALUE_ROWS = _insert_json_rows(VALUE_ROWS)

#: How many resources the given types hold (kept by triggers: migration 0080).
TYPES_TOTAL = select(func.coalesce(func.sum(ResourceCount.total), 0)).where(
    ResourceCount.resource_type.in_(bindparam("resource_types", expanding=True))
)

PagedQuery = TypeVar("PagedQuery", bound=Select[*tuple[Any, ...]])

#: One resource by primary key (what ``Session.get`` runs, without its overhead).
RESOURCE_BY_ID = select(Resource).where(Resource.id == bindparam("resource_id"))


class json_pairs(FunctionElement[Any]):  # noqa: N801 - named like SQL functions
    """An aggregate: the JSON array of ``[first, second]`` over the rows.

    Rows that match nothing give ``[]`` on SQLite and NULL on PostgreSQL; the
    result is JSON text on SQLite, already decoded on PostgreSQL.
    """

    type = Text()
    name = "json_pairs"
    inherit_cache = True


@compiles(json_pairs)
def _compile_json_pairs(element: json_pairs, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_pairs, "postgresql")
def _compile_json_pairs_postgresql(
    element: json_pairs, compiler: SQLCompiler, **kw: Any
) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


#: The id and display name of each group the outer query's resource belongs to.
GROUPS_OF_RESOURCE = (
    select(json_pairs(PEER.id, PEER.display_name))
    .select_from(Membership)
    .join(PEER, PEER.id == Membership.group_id)
    .where(Membership.member_id == Resource.id)
    .correlate(Resource)
    .scalar_subquery()
)

#: One resource by primary key with its groups: a User's GET in one round trip.
RESOURCE_WITH_GROUPS_BY_ID = select(Resource, GROUPS_OF_RESOURCE).where(
    Resource.id == bindparam("resource_id")
)

#: Group id, member id, type, display name and userName of the given groups.
MEMBERS_OF = (
    select(
        Membership.group_id,
        PEER.id,
        PEER.resource_type,
        PEER.display_name,
        PEER.user_name,
    )
    .join(PEER, PEER.id == Membership.member_id)
    .where(Membership.group_id.in_(bindparam("group_ids", expanding=True)))
    .order_by(Membership.group_id, PEER.id)
)

#: The same without display names: read from the membership table's index alone.
MEMBER_IDS_OF = (
    select(Membership.group_id, Membership.member_id, Membership.member_type)
    .where(Membership.group_id.in_(bindparam("group_ids", expanding=True)))
    .order_by(Membership.group_id, Membership.member_id)
)


def _page_of_members(query: PagedQuery) -> PagedQuery:
    """``query`` narrowed to one page of a group's members, after ``after``."""
    return (
        query.where(
            Membership.group_id == bindparam("group_id"),
            Membership.member_id > bindparam("after"),
        )
        .order_by(Membership.member_id)
        .limit(bindparam("limit"))
    )


#: One page of a group's members in id order, with their display names.
MEMBER_PAGE = _page_of_members(
    select(
        Membership.member_id,
        Membership.member_type,
        PEER.display_name,
        PEER.user_name,
    ).join(PEER, PEER.id == Membership.member_id)
)

#: The same without display names, from the membership table's index alone.
MEMBER_ID_PAGE = _page_of_members(select(Membership.member_id, Membership.member_type))

#: Which of the given groups have more than ``size`` direct members.
LARGE_GROUPS = (
    select(Membership.group_id)
    .where(Membership.group_id.in_(bindparam("group_ids", expanding=True)))
    .group_by(Membership.group_id)
    .having(func.count() > bindparam("size"))
)

#: Member id, group id and group display name for the given members.
GROUPS_OF = (
    select(Membership.member_id, PEER.id, PEER.display_name)
    .join(PEER, PEER.id == Membership.group_id)
    .where(Membership.member_id.in_(bindparam("member_ids", expanding=True)))
    .order_by(Membership.member_id, PEER.id)
)

#: Another resource of the type holding the userName (RFC 7643 §4.1.1).
USER_NAME_CLASH = select(Resource.id).where(
    Resource.resource_type == bindparam("resource_type"),
    func.lower(Resource.user_name) == bindparam("user_name"),
    Resource.id != bindparam("resource_id"),
)

#: Which of the given lower-cased userNames a resource of the type holds.
USER_NAMES_TAKEN = select(func.lower(Resource.user_name)).where(
    Resource.resource_type == bindparam("resource_type"),
    func.lower(Resource.user_name).in_(bindparam("user_names", expanding=True)),
)

#: The same on PostgreSQL, asked as (type, userName) pairs: it reads the list
#: above through the trigram index, whose every entry a batch of similar names
#: shares (over a second for 64 names among 12,000 Users), and each pair through the
#: unique B-tree index. SQLite, the other way round, reads every row for pairs.
USER_NAME_PAIRS_TAKEN = select(func.lower(Resource.user_name)).where(
    tuple_(Resource.resource_type, func.lower(Resource.user_name)).in_(
        bindparam("pairs", expanding=True)
    )
)

#: A new version and modification time, without the optimistic check.
TOUCH = (
    update(Resource)
    .where(Resource.id == bindparam("resource_id"))
    .values(version=Resource.version + 1, last_modified=bindparam("now"))
    .execution_options(synchronize_session=False)
)

#: Id and type of the resources named as new members.
MEMBER_TYPES = select(Resource.id, Resource.resource_type).where(
    Resource.id.in_(bindparam("ids", expanding=True))
)

#: Which of the named members the group has already.
PRESENT_MEMBERS = select(Membership.member_id).where(
    Membership.group_id == bindparam("group_id"),
    Membership.member_id.in_(bindparam("ids", expanding=True)),
)
