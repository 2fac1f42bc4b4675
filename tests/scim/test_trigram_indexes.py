"""On PostgreSQL, substring filters on userName and displayName use trigram indexes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import func, insert, select, text

from scimserver.db import get_database
from scimserver.models import Resource
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.filter import filter_clause
from tests.conftest import ScimClient
from tests.scim.test_api_users import create_user


def seed_users(app: Flask, count: int) -> None:
    """Rows enough for the planner to prefer an index over reading them all."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "resource_type": "User",
            "user_name": f"user{n:05d}",
            "display_name": f"User Number {n}",
            "created": now,
            "last_modified": now,
            "version": 1,
            "attributes": {},
        }
        for n in range(count)
    ]
    with get_database(app).engine.begin() as connection:
        connection.execute(insert(Resource), rows)
        connection.execute(text("ANALYZE scim_resources"))


def plan_of(app: Flask, filter_text: str) -> str:
    """The plan of a User filter's count when reading every row is the last resort."""
    user_type = app.extensions[REGISTRY_KEY].resource_type("User")
    query = (
        select(func.count())
        .select_from(Resource)
        .where(Resource.resource_type == "User", filter_clause(user_type, filter_text))
    )
    with get_database(app).engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        compiled = query.compile(connection)
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        return "\n".join(row[0] for row in rows)


def test_substring_filters_use_the_trigram_indexes(
    app: Flask, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no trigram index")
    seed_users(app, 30_000)

    by_user_name = plan_of(app, 'userName co "0123"')
    by_display_name = plan_of(app, 'displayName ew "r 12"')

    assert "ix_scim_resources_user_name_trgm" in by_user_name
    assert "ix_scim_resources_display_name_trgm" in by_display_name


def test_substring_filters_still_match_case_insensitively(scim: ScimClient) -> None:
    create_user(scim, "bjensen", displayName="Barbara Jensen")
    create_user(scim, "jsmith", displayName="John Smith")

    found = scim.get('/Users?filter=userName co "JENS"').get_json()
    ended = scim.get('/Users?filter=displayName ew "SMITH"').get_json()

    assert [u["userName"] for u in found["Resources"]] == ["bjensen"]
    assert [u["userName"] for u in ended["Resources"]] == ["jsmith"]
