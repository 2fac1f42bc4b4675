"""Reads cost a fixed number of SQL statements, whatever the page or group size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from scimserver.db import get_database
from tests.conftest import ScimClient
from tests.scim.test_api_groups import create_group
from tests.scim.test_api_users import create_user


@contextmanager
def count_statements(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = get_database(app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("size", [3, 30])
def test_list_page_costs_the_same_for_any_page_size(
    app: Flask, scim: ScimClient, size: int
) -> None:
    ids = [create_user(scim, f"user{n}")["id"] for n in range(size)]
    create_group(scim, "Everyone", ids)

    with count_statements(app) as statements:
        response = scim.get('/Users?filter=userName sw "user"&count=100')

    assert response.get_json()["totalResults"] == size
    assert len(statements) <= 5, statements


@pytest.mark.parametrize("size", [2, 40])
def test_group_member_patch_costs_the_same_for_any_group_size(
    app: Flask, scim: ScimClient, size: int
) -> None:
    ids = [create_user(scim, f"user{n}")["id"] for n in range(size)]
    newcomer = create_user(scim, "newcomer")["id"]
    group = create_group(scim, "Team", ids)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": newcomer}]}
        ],
    }

    with count_statements(app) as statements:
        response = scim.patch(f"/Groups/{group['id']}?excludedAttributes=members", body)

    assert response.status_code == 200, response.get_json()
    assert len(statements) <= 10, statements


@pytest.mark.parametrize("groups", [1, 12])
def test_user_reads_are_one_statement_whatever_the_groups(
    app: Flask, scim: ScimClient, groups: int
) -> None:
    user = create_user(scim, "member")
    teams = sorted(
        create_group(scim, f"Team {n:02d}", [user["id"]])["id"] for n in range(groups)
    )

    with count_statements(app) as by_id:
        fetched = scim.get(f"/Users/{user['id']}")
    with count_statements(app) as by_filter:
        found = scim.get('/Users?filter=userName eq "member"')

    assert [g["value"] for g in fetched.get_json()["groups"]] == teams
    assert found.get_json()["Resources"][0]["groups"] == fetched.get_json()["groups"]
    assert len(by_id) == 1, by_id
    # A page reads groups inline on PostgreSQL, with a second query on SQLite.
    inline = get_database(app).engine.dialect.name == "postgresql"
    assert len(by_filter) == (1 if inline else 2), by_filter


@pytest.mark.parametrize("size", [2, 40])
def test_user_patch_costs_the_same_for_any_group_count(
    app: Flask, scim: ScimClient, size: int
) -> None:
    user = create_user(scim, "member")
    for n in range(size):
        create_group(scim, f"Team {n:02d}", [user["id"]])
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }

    with count_statements(app) as statements:
        response = scim.patch(f"/Users/{user['id']}", body)

    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["groups"]) == size
    assert len(statements) <= 8, statements
