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
