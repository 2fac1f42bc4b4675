"""Checked bearer tokens are reused for a few seconds, and no longer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, update

from scimserver import create_app
from scimserver.db import get_database
from scimserver.models import Client, ClientToken
from scimserver.policy.token_cache import EXTENSION_KEY, TokenCache
from tests.conftest import BASE_URL, ScimClient, make_token
from tests.scim.test_query_counts import count_statements


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: Flask) -> Clock:
    moved = Clock()
    cache: TokenCache = app.extensions[EXTENSION_KEY]
    cache.clock = moved
    return moved


def revoke_elsewhere(database_url: str) -> None:
    """Revoke every token as another server process would: its own engine."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(ClientToken).values(revoked=datetime.now(UTC)))
    engine.dispose()


def test_a_cached_token_costs_no_query(app: Flask, scim: ScimClient) -> None:
    scim.get("/Users")

    with count_statements(app) as statements:
        response = scim.get("/Users")

    assert response.status_code == 200
    assert not any("client_tokens" in statement for statement in statements)


def test_a_token_revoked_elsewhere_stops_working_after_the_ttl(
    app: Flask, scim: ScimClient, clock: Clock, database_url: str
) -> None:
    assert scim.get("/Users").status_code == 200

    revoke_elsewhere(database_url)
    within = scim.get("/Users")
    clock.now += app.config["SETTINGS"].token_cache_seconds
    after = scim.get("/Users")

    assert within.status_code == 200
    assert after.status_code == 401


def test_a_change_made_in_this_process_applies_at_once(
    app: Flask, scim: ScimClient, clock: Clock
) -> None:
    assert scim.get("/Users").status_code == 200

    with get_database(app).sessions() as session:
        session.execute(update(ClientToken).values(revoked=datetime.now(UTC)))
        session.commit()

    assert scim.get("/Users").status_code == 401


def test_a_scope_removed_in_this_process_applies_at_once(
    app: Flask, scim: ScimClient, clock: Clock
) -> None:
    assert scim.get("/Users").status_code == 200

    with get_database(app).sessions() as session:
        client = session.scalars(select(Client).where(Client.name == "hris")).one()
        client.scopes = ["scim:write"]
        session.commit()

    assert scim.get("/Users").status_code == 403


def test_a_refused_token_is_not_remembered(app: Flask, scim: ScimClient) -> None:
    assert ScimClient(scim.client, "scs_unknown").get("/Users").status_code == 401

    fresh = make_token(app, "lms", ["scim:read"])

    assert ScimClient(scim.client, fresh).get("/Users").status_code == 200


@pytest.fixture
def uncached_app(database_url: str, schema_dir: str) -> Iterator[Flask]:
    application = create_app(
        {
            "database_url": database_url,
            "base_url": BASE_URL,
            "schema_dir": schema_dir,
            "token_cache_seconds": 0,
        }
    )
    yield application
    get_database(application).dispose()


def test_a_ttl_of_zero_checks_every_request(
    app: Flask, uncached_app: Flask, database_url: str
) -> None:
    token = make_token(app, "eap", ["scim:read"])
    scim = ScimClient(uncached_app.test_client(), token)
    assert scim.get("/Users").status_code == 200

    revoke_elsewhere(database_url)

    assert scim.get("/Users").status_code == 401


def test_the_cache_keeps_a_bounded_number_of_tokens() -> None:
    clock = Clock()
    cache = TokenCache(ttl=5, max_entries=2, clock=clock)
    client = Client(id=1, name="hris", scopes=[], created=datetime.now(UTC))

    cache.remember("a", client)
    clock.now += 10
    cache.remember("b", client)
    cache.remember("c", client)

    assert "a" not in cache
    assert "b" in cache and "c" in cache
