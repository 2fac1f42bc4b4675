"""totalResults of a list without a filter comes from counts kept by triggers.

Every way a resource comes and goes (POST, Bulk, DELETE, a write rolled back,
writes from several connections at once) must leave the kept count equal to
``count(*)``; lists that a filter or a cohort narrows still count their rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest
from flask import Flask
from sqlalchemy import Engine, Table, event, func, select, text

from scimserver.db import get_database
from scimserver.models import Resource, ResourceCount
from scimserver.scim.search import SEARCH_REQUEST
from tests.conftest import ScimClient, make_token
from tests.policy.http.conftest import client_with
from tests.scim.test_api_groups import GROUP
from tests.scim.test_api_users import create_user, user_payload
from tests.scim.test_bulk import post_user, send, statuses


def stored_total(app: Flask, resource_type: str) -> int:
    """``count(*)`` of the resource type, the truth the kept count must equal."""
    query = select(func.count()).where(Resource.resource_type == resource_type)
    with get_database(app).sessions() as session:
        return int(session.scalar(query) or 0)


def listed_total(scim: ScimClient, path: str = "/Users?count=1") -> int:
    """totalResults of a one-item page: the page is full, so the total is counted."""
    response = scim.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    total: int = response.get_json()["totalResults"]
    return total


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL text of every statement the app runs while the test does."""
    seen: list[str] = []
    engine: Engine = get_database(app).engine

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_creates_deletes_and_bulk_keep_the_count(app: Flask, scim: ScimClient) -> None:
    ids = [create_user(scim, f"user{n}")["id"] for n in range(3)]
    assert listed_total(scim) == stored_total(app, "User") == 3

    assert scim.delete(f"/Users/{ids[0]}").status_code == 204
    assert listed_total(scim) == stored_total(app, "User") == 2

    operations = [post_user(f"b{n}", f"bulk{n}") for n in range(20)]
    assert statuses(send(scim, *operations)) == ["201"] * 20
    assert listed_total(scim) == stored_total(app, "User") == 22

    group = {"schemas": [GROUP], "displayName": "Team", "members": [{"value": ids[1]}]}
    assert scim.post("/Groups", group).status_code == 201
    assert listed_total(scim, "/Groups?count=1") == 1
    assert listed_total(scim) == 22


def test_a_refused_write_leaves_the_count_as_it_was(
    app: Flask, scim: ScimClient
) -> None:
    create_user(scim, "taken")

    clash = scim.post("/Users", user_payload("TAKEN"))
    operations = [post_user(f"b{n}", f"new{n}") for n in range(6)]
    operations[4] = post_user("b4", "Taken")
    bulk = statuses(send(scim, *operations))

    assert clash.status_code == 409
    assert bulk == ["201"] * 4 + ["409", "201"]
    assert listed_total(scim) == stored_total(app, "User") == 6


def test_root_search_adds_the_counts_of_every_type(scim: ScimClient) -> None:
    user = create_user(scim, "alice")
    members = [{"value": user["id"]}]
    scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Team", "members": members}
    )

    found = scim.post("/.search", {"schemas": [SEARCH_REQUEST], "count": 1})

    assert found.status_code == 200, found.get_data(as_text=True)
    assert found.get_json()["totalResults"] == 2


def test_an_unfiltered_full_page_reads_the_kept_count(
    scim: ScimClient, statements: list[str]
) -> None:
    for n in range(3):
        create_user(scim, f"user{n}")
    statements.clear()

    assert listed_total(scim) == 3

    assert any("scim_resource_counts" in text for text in statements)
    assert not any("count(*)" in text.lower() for text in statements)


def test_filtered_and_cohort_lists_count_their_own_rows(
    app: Flask, scim: ScimClient
) -> None:
    """Three Users; a filter matches two, a cohort holds one of those."""
    ids = [create_user(scim, name)["id"] for name in ("ann", "anna", "bob")]
    pilot = {"schemas": [GROUP], "displayName": "Pilot", "members": [{"value": ids[0]}]}
    cohort = scim.post("/Groups", pilot).get_json()["id"]
    policy = {
        "read": {"classifications": ["public", "internal"]},
        "cohort": {"group": cohort},
    }
    pilot_lms = client_with(app, scim, "pilot-lms", policy)

    assert listed_total(scim, '/Users?count=1&filter=userName sw "ann"') == 2
    assert listed_total(pilot_lms) == 1
    assert listed_total(scim) == 3


def test_cursor_pages_report_the_kept_count(scim: ScimClient) -> None:
    for n in range(4):
        create_user(scim, f"user{n}")

    first = scim.get("/Users?count=2&cursor").get_json()

    assert first["totalResults"] == 4
    assert len(first["Resources"]) == 2


def test_writes_from_several_connections_at_once_keep_the_count(
    app: Flask, client: Any
) -> None:
    """On PostgreSQL each connection counts in its own shard; the sum is exact."""
    token = make_token(app, "hris", ["scim:read", "scim:write"])
    failures: list[int] = []

    def create_many(worker: int) -> None:
        scim = ScimClient(app.test_client(), token)
        for n in range(8):
            response = scim.post("/Users", user_payload(f"w{worker}-{n}"))
            if response.status_code != 201:
                failures.append(response.status_code)

    threads = [threading.Thread(target=create_many, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    scim = ScimClient(client, token)
    assert failures == []
    assert listed_total(scim) == stored_total(app, "User") == 32
    with get_database(app).sessions() as session:
        kept = session.scalar(
            select(func.sum(ResourceCount.total)).where(
                ResourceCount.resource_type == "User"
            )
        )
    assert kept == 32


def shards(app: Flask) -> dict[int, int]:
    """The User count rows: shard to total."""
    query = select(ResourceCount.shard, ResourceCount.total).where(
        ResourceCount.resource_type == "User"
    )
    with get_database(app).sessions() as session:
        return {shard: total for shard, total in session.execute(query)}


def backend_pids(app: Flask) -> set[int]:
    """The process ids of the app's pooled PostgreSQL connections (and this one)."""
    with get_database(app).sessions() as session:
        pid = session.scalar(select(func.pg_backend_pid()))
    return {int(pid or 0)}


@pytest.fixture
def on_postgresql(app: Flask) -> None:
    if get_database(app).engine.dialect.name != "postgresql":
        pytest.skip("per-connection count shards exist on PostgreSQL only")


@pytest.mark.usefixtures("on_postgresql")
def test_connections_count_in_shards_of_their_own_folded_once_ended(
    app: Flask, scim: ScimClient
) -> None:
    for n in range(3):
        create_user(scim, f"user{n}")
    counted = shards(app)
    assert set(counted) <= backend_pids(app) | {0}
    assert sum(counted.values()) == 3

    get_database(app).dispose()  # The pool's connections end...
    backend_pids(app)  # ...and the next one to open folds their rows.

    assert shards(app) == {0: 3}
    assert listed_total(scim) == stored_total(app, "User") == 3


@pytest.mark.usefixtures("on_postgresql")
def test_folding_keeps_the_rows_of_live_connections(app: Flask) -> None:
    ended_shard = 4_194_305  # Above Linux's largest process id: never alive.
    counts = cast(Table, ResourceCount.__table__)
    engine = get_database(app).engine
    engine.dispose()
    with engine.connect() as live:
        held = live.execute(select(func.pg_backend_pid())).scalar_one()
        rows = [
            {"resource_type": "User", "shard": held, "total": 1},
            {"resource_type": "User", "shard": ended_shard, "total": 5},
            {"resource_type": "User", "shard": 0, "total": -2},
        ]
        live.execute(counts.insert(), rows)
        live.commit()

        with engine.connect():  # No idle connection in the pool: a new one folds.
            pass

        assert shards(app) == {0: 3, held: 1}


@pytest.mark.usefixtures("on_postgresql")
def test_truncating_the_resources_empties_the_counts(
    app: Flask, scim: ScimClient
) -> None:
    for n in range(2):
        create_user(scim, f"user{n}")

    with get_database(app).sessions() as session:
        session.execute(text("TRUNCATE scim_resources CASCADE"))
        session.commit()

    assert shards(app) == {}
    assert listed_total(scim) == stored_total(app, "User") == 0
