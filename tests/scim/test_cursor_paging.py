"""Cursor paging of Users, Groups and root searches (RFC 9865)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from scimserver.db import get_database
from scimserver.scim import cursors
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.cursors import CursorCodec, Position
from scimserver.scim.errors import InvalidCursor
from scimserver.scim.schema import SchemaRegistry
from scimserver.scim.store import ResourceStore
from scimserver.scim.validation import validate_resource
from tests.conftest import ScimClient
from tests.scim.test_api_groups import create_group
from tests.scim.test_api_users import USER, assert_error, create_user

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
FAMILY_NAMES = ["Adams", "Baker", "Clark", "Davis", None]


def user_document(number: int, rng: random.Random) -> dict[str, Any]:
    """A User whose familyName often ties with others' and is sometimes absent."""
    document: dict[str, Any] = {"schemas": [USER], "userName": f"user{number:05}"}
    family_name = rng.choice(FAMILY_NAMES)
    if family_name is not None:
        document["name"] = {"familyName": family_name}
    return document


def seed_users(app: Flask, numbers: range, seed: int = 7) -> list[str]:
    """Insert Users straight into the store, far faster than over HTTP."""
    registry: SchemaRegistry = app.extensions[REGISTRY_KEY]
    users = registry.resource_type("User")
    assert users is not None
    rng = random.Random(seed)

    with get_database(app).sessions() as session:
        store = ResourceStore(session, users)
        ids = [
            store.create(validate_resource(users, user_document(n, rng)), None).id
            for n in numbers
        ]
        session.commit()
    return ids


def walk(
    scim: ScimClient, query: str, between_pages: Any = None
) -> Iterator[dict[str, Any]]:
    """Follow nextCursor from an empty cursor to the last page; yield each page."""
    cursor = ""
    while True:
        response = scim.get(f"/Users?{query}&cursor={cursor}")
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        yield page
        if "nextCursor" not in page:
            return
        cursor = page["nextCursor"]
        if between_pages is not None:
            between_pages()


def ids_of(page: dict[str, Any]) -> list[str]:
    return [resource["id"] for resource in page["Resources"]]


@pytest.mark.parametrize(
    "sort",
    [
        pytest.param("", id="created"),
        pytest.param("&sortBy=userName&sortOrder=descending", id="userName-desc"),
        pytest.param("&sortBy=name.familyName", id="familyName-with-nulls"),
    ],
)
def test_walk_under_inserts_and_deletes_returns_every_survivor_once(
    app: Flask, scim: ScimClient, sort: str
) -> None:
    initial = seed_users(app, range(0, 400, 2))
    rng = random.Random(sort)
    live = list(initial)
    deleted: set[str] = set()
    inserted: set[str] = set()

    def churn() -> None:
        for victim in rng.sample(live, 2):
            assert scim.delete(f"/Users/{victim}").status_code == 204
            live.remove(victim)
            deleted.add(victim)
        for _ in range(2):
            number = rng.randrange(1, 400, 2)
            created = create_user(scim, f"user{number:05}-{len(inserted)}")
            live.append(created["id"])
            inserted.add(created["id"])

    seen = [i for page in walk(scim, f"count=20{sort}", churn) for i in ids_of(page)]

    assert len(seen) == len(set(seen)), "a resource came back twice"
    assert set(initial) - deleted <= set(seen)
    assert set(seen) <= set(initial) | inserted


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_walk_follows_the_sort_order(app: Flask, scim: ScimClient, order: str) -> None:
    seed_users(app, range(25))
    query = f"count=4&sortBy=userName&sortOrder={order}&attributes=userName"

    names = [
        resource["userName"]
        for page in walk(scim, query)
        for resource in page["Resources"]
    ]

    assert names == sorted(names, reverse=order == "descending")
    assert len(names) == 25


def test_first_and_last_pages(app: Flask, scim: ScimClient) -> None:
    seed_users(app, range(5))

    pages = list(walk(scim, "count=2"))

    assert [len(page["Resources"]) for page in pages] == [2, 2, 1]
    assert all(page["totalResults"] == 5 for page in pages)
    assert all(page["itemsPerPage"] == len(page["Resources"]) for page in pages)
    assert all("startIndex" not in page for page in pages)
    assert "previousCursor" not in pages[0]
    assert "previousCursor" in pages[1] and "previousCursor" in pages[2]
    assert "nextCursor" not in pages[-1]


def test_cursor_without_a_value_is_the_first_page(app: Flask, scim: ScimClient) -> None:
    seed_users(app, range(3))

    body = scim.get("/Users?cursor&count=2").get_json()

    assert len(body["Resources"]) == 2
    assert set(body["nextCursor"]) <= UNRESERVED


def test_previous_cursor_returns_the_page_before(app: Flask, scim: ScimClient) -> None:
    seed_users(app, range(7))
    first, second, third, _fourth = walk(scim, "count=2&sortBy=userName")

    back_to_second = scim.get(
        f"/Users?count=2&sortBy=userName&cursor={third['previousCursor']}"
    ).get_json()
    back_to_first = scim.get(
        f"/Users?count=2&sortBy=userName&cursor={back_to_second['previousCursor']}"
    ).get_json()
    forward_again = scim.get(
        f"/Users?count=2&sortBy=userName&cursor={back_to_first['nextCursor']}"
    ).get_json()

    assert ids_of(back_to_second) == ids_of(second)
    assert ids_of(back_to_first) == ids_of(first)
    assert "previousCursor" not in back_to_first
    assert ids_of(forward_again) == ids_of(second)


def test_without_cursor_index_paging_is_unchanged(app: Flask, scim: ScimClient) -> None:
    seed_users(app, range(3))

    body = scim.get("/Users?startIndex=2&count=1").get_json()

    assert body["startIndex"] == 2
    assert "nextCursor" not in body and "previousCursor" not in body


def test_search_body_pages_by_cursor(scim: ScimClient) -> None:
    for name in ["ann", "ben", "cai"]:
        create_user(scim, name)
    request = {"schemas": [SEARCH], "cursor": "", "count": 2, "sortBy": "userName"}

    first = scim.post("/Users/.search", request).get_json()
    second = scim.post(
        "/Users/.search", {**request, "cursor": first["nextCursor"]}
    ).get_json()

    names = [r["userName"] for r in first["Resources"] + second["Resources"]]
    assert names == ["ann", "ben", "cai"]
    assert "nextCursor" not in second


def test_root_search_pages_over_every_resource_type(scim: ScimClient) -> None:
    ids = [create_user(scim, name)["id"] for name in ["ann", "ben", "cai"]]
    ids += [create_group(scim, name, [])["id"] for name in ["Ops", "Sales"]]
    request = {"schemas": [SEARCH], "cursor": "", "count": 2, "sortBy": "displayName"}

    seen: list[str] = []
    while True:
        page = scim.post("/.search", request).get_json()
        seen += ids_of(page)
        if "nextCursor" not in page:
            break
        request["cursor"] = page["nextCursor"]

    assert sorted(seen) == sorted(ids)


def test_count_zero_gives_only_the_total(app: Flask, scim: ScimClient) -> None:
    seed_users(app, range(3))

    body = scim.get("/Users?cursor=&count=0").get_json()

    assert body["totalResults"] == 3
    assert body["Resources"] == []


def first_cursor(scim: ScimClient, query: str = "count=1") -> str:
    cursor: str = scim.get(f"/Users?{query}&cursor=").get_json()["nextCursor"]
    return cursor


def tampered(cursor: str) -> str:
    body, _dot, signature = cursor.partition(".")
    flipped = "A" if body[-1] != "A" else "B"
    return f"{body[:-1]}{flipped}.{signature}"


@pytest.mark.parametrize(
    "bad_cursor",
    [
        pytest.param(lambda good: tampered(good), id="tampered"),
        pytest.param(lambda good: good.partition(".")[0], id="unsigned"),
        pytest.param(lambda good: "abc", id="garbage"),
        pytest.param(lambda good: good + "%20", id="reserved-character"),
    ],
)
def test_unusable_cursor_is_invalid_cursor(
    app: Flask, scim: ScimClient, bad_cursor: Any
) -> None:
    seed_users(app, range(3))

    response = scim.get(f"/Users?count=1&cursor={bad_cursor(first_cursor(scim))}")

    assert_error(response, 400, "invalidCursor")


@pytest.mark.parametrize(
    "other_query",
    [
        'count=1&filter=userName sw "user"',
        "count=1&sortBy=userName",
        "count=1&sortOrder=descending",
    ],
)
def test_cursor_of_another_query_is_invalid_cursor(
    app: Flask, scim: ScimClient, other_query: str
) -> None:
    seed_users(app, range(3))

    response = scim.get(f"/Users?{other_query}&cursor={first_cursor(scim)}")

    assert_error(response, 400, "invalidCursor")


def test_cursor_of_another_endpoint_is_invalid_cursor(
    app: Flask, scim: ScimClient
) -> None:
    seed_users(app, range(3))
    create_group(scim, "Ops", [])
    create_group(scim, "Sales", [])

    response = scim.get(f"/Groups?count=1&cursor={first_cursor(scim)}")

    assert_error(response, 400, "invalidCursor")


def test_cursor_expires_after_the_timeout(
    app: Flask, scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_users(app, range(3))
    cursor = first_cursor(scim)
    issued = cursors.current_time()

    monkeypatch.setattr(cursors, "current_time", lambda: issued + 3599)
    assert scim.get(f"/Users?count=1&cursor={cursor}").status_code == 200
    monkeypatch.setattr(cursors, "current_time", lambda: issued + 3602)
    response = scim.get(f"/Users?count=1&cursor={cursor}")

    assert_error(response, 400, "expiredCursor")


@pytest.mark.parametrize("cursor", ["", "anything"])
def test_cursor_with_start_index_is_refused(scim: ScimClient, cursor: str) -> None:
    response = scim.get(f"/Users?startIndex=1&cursor={cursor}")

    assert_error(response, 400, "invalidValue")


def test_service_provider_config_advertises_both_paging_methods(
    scim: ScimClient,
) -> None:
    body = scim.get("/ServiceProviderConfig").get_json()

    assert body["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
        "cursorTimeout": 3600,
    }


@pytest.mark.parametrize(
    "sort_value",
    [None, "bjensen", 42, 2.5, datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)],
)
def test_codec_round_trips_every_sort_value(sort_value: Any) -> None:
    codec = CursorCodec("secret", timeout_seconds=60)
    position = Position("digest", sort_value, "id-1", backwards=True)

    assert codec.read(codec.issue(position)) == position


def test_cursor_signed_with_another_secret_is_refused() -> None:
    position = Position("digest", "x", "id-1", backwards=False)
    cursor = CursorCodec("one secret", 60).issue(position)

    with pytest.raises(InvalidCursor):
        CursorCodec("another secret", 60).read(cursor)


@pytest.mark.slow
def test_walk_over_ten_thousand_users_under_churn(app: Flask, scim: ScimClient) -> None:
    initial = seed_users(app, range(0, 20_000, 2))
    rng = random.Random(10_000)
    live = list(initial)
    deleted: set[str] = set()
    newcomers = itertools.count()

    def churn() -> None:
        for victim in rng.sample(live, 3):
            assert scim.delete(f"/Users/{victim}").status_code == 204
            live.remove(victim)
            deleted.add(victim)
        number = rng.randrange(1, 20_000, 2)
        create_user(scim, f"user{number:05}-{next(newcomers)}")

    seen = [
        i
        for page in walk(scim, "count=250&sortBy=userName", churn)
        for i in ids_of(page)
    ]

    assert len(seen) == len(set(seen))
    assert set(initial) - deleted <= set(seen)
