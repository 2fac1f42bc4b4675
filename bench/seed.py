"""Fast seeding of a benchmark database with users, groups and memberships.

Rows are written with batched multi-row INSERTs instead of through the API, but
each document goes through the server's own validation and value indexing, so
the rows equal those a POST would write.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from scimserver.models import Membership, Resource, ResourceValue
from scimserver.scim.schema import ResourceType, SchemaRegistry
from scimserver.scim.validation import validate_resource
from scimserver.scim.value_index import index_values

logger = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
BATCH = 2_000
SMALL_GROUP_SIZE = 10
GIVEN_NAMES = ["Ada", "Grace", "Alan", "Mary", "Edsger", "Barbara", "Ken", "Radia"]
FAMILY_NAMES = ["Lovelace", "Hopper", "Turing", "Jackson", "Dijkstra", "Liskov"]


@dataclass
class Seeded:
    """What was seeded: ids and names the workloads pick from."""

    user_ids: list[str] = field(default_factory=list)
    user_names: list[str] = field(default_factory=list)
    big_group_id: str = ""
    big_group_size: int = 0
    small_group_id: str = ""
    seconds: float = 0.0


def user_payload(name: str, number: int) -> dict[str, Any]:
    """A realistic User: name, display name, title, a work e-mail, active."""
    given = GIVEN_NAMES[number % len(GIVEN_NAMES)]
    family = FAMILY_NAMES[number % len(FAMILY_NAMES)]
    return {
        "schemas": [USER_SCHEMA],
        "userName": name,
        "externalId": f"E{number:08d}",
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family} {number}",
        "title": "Engineer",
        "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
        "active": True,
    }


def seed(
    engine: Engine, registry: SchemaRegistry, users: int, big_group: int
) -> Seeded:
    """Seed ``users`` users plus a group of ``big_group`` members and one of 10.

    The big group's members are users of their own, so that the ``users`` users
    can be added to either group by the workloads. Each batch of users is a
    transaction of its own: psycopg runs an executemany as one INSERT per row,
    each of which updates the resource count row through the counting trigger,
    and one transaction that updates a row a million times slows down with
    every update (a million users never finished in 25 minutes; 50,000 took
    32 s in one transaction and 15 s in batches).
    """
    started = time.perf_counter()
    user_type = _resource_type(registry, "User")
    group_type = _resource_type(registry, "Group")
    seeded = Seeded()

    with Session(engine) as session:
        for batch in _batches(range(users)):
            names = [f"bench{n:07d}" for n in batch]
            seeded.user_ids += _insert_users(session, user_type, names, batch)
            seeded.user_names += names
            session.commit()
        member_ids: list[str] = []
        for batch in _batches(range(big_group)):
            names = [f"member{n:07d}" for n in batch]
            member_ids += _insert_users(session, user_type, names, batch)
            session.commit()
        seeded.big_group_id = _insert_group(session, group_type, "big", member_ids)
        seeded.big_group_size = len(member_ids)
        small = member_ids[:SMALL_GROUP_SIZE] or seeded.user_ids[:SMALL_GROUP_SIZE]
        seeded.small_group_id = _insert_group(session, group_type, "small", small)
        session.commit()

    gather_statistics(engine)
    seeded.seconds = time.perf_counter() - started
    return seeded


def gather_statistics(engine: Engine) -> None:
    """Give the query planner the statistics of the seeded tables (``ANALYZE``).

    Autovacuum would, within a minute or so of a load this large; until then
    PostgreSQL plans for nearly empty tables (a list page then joins by reading
    every row, about 100 ms instead of 1 ms), which measures the seeding, not the
    server.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


def _insert_users(
    session: Session, user_type: ResourceType, names: list[str], numbers: range
) -> list[str]:
    now = _now()
    resources: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    for name, number in zip(names, numbers, strict=True):
        document = validate_resource(user_type, user_payload(name, number))
        resource_id = str(uuid.uuid4())
        resources.append(_resource_row(resource_id, "User", document, now))
        values += [
            {**row, "resource_id": resource_id}
            for row in index_values(user_type, document)
        ]

    _insert(session, Resource, resources)
    for chunk in _batches(values):
        _insert(session, ResourceValue, chunk)
    return [row["id"] for row in resources]


def _insert_group(
    session: Session, group_type: ResourceType, name: str, member_ids: list[str]
) -> str:
    document = validate_resource(
        group_type, {"schemas": [GROUP_SCHEMA], "displayName": name}
    )
    group_id = str(uuid.uuid4())
    _insert(session, Resource, [_resource_row(group_id, "Group", document, _now())])
    rows = [
        {"resource_id": group_id, **row} for row in index_values(group_type, document)
    ]
    if rows:
        _insert(session, ResourceValue, rows)

    for chunk in _batches(member_ids):
        rows = [
            {"group_id": group_id, "member_id": m, "member_type": "User"} for m in chunk
        ]
        _insert(session, Membership, rows)
    return group_id


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` with one executemany (Core, so no per-row ORM work)."""
    session.connection().execute(insert(model.__table__), rows)


def _now() -> datetime:
    return datetime.now(UTC)


def _resource_row(
    resource_id: str, type_name: str, document: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "id": resource_id,
        "resource_type": type_name,
        "external_id": document.get("externalId"),
        "user_name": document.get("userName"),
        "display_name": document.get("displayName"),
        "created": now,
        "last_modified": now,
        "version": 1,
        "attributes": document,
    }


def _resource_type(registry: SchemaRegistry, name: str) -> ResourceType:
    found = registry.resource_type(name)
    if found is None:
        raise LookupError(f"the schemas define no {name} resource type")
    return found


def _batches(items: Any, size: int = BATCH) -> Iterator[Any]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
