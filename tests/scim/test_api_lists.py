"""Listing, filtering, sorting and paging Users over HTTP (RFC 7644 §3.4.2)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import ScimClient
from tests.scim.test_api_users import assert_error, create_user

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture
def five_users(scim: ScimClient) -> list[str]:
    names = ["carol", "alice", "eve", "bob", "dave"]
    return [create_user(scim, name)["id"] for name in names]


def user_names(response: object) -> list[str]:
    body = response.get_json()  # type: ignore[attr-defined]
    return [r["userName"] for r in body["Resources"]]


def test_list_response_shape(scim: ScimClient, five_users: list[str]) -> None:
    body = scim.get("/Users?startIndex=1&count=2").get_json()

    assert body["schemas"] == [LIST]
    assert body["totalResults"] == 5
    assert body["itemsPerPage"] == 2
    assert body["startIndex"] == 1
    assert len(body["Resources"]) == 2


def test_paging_walks_every_user_once(scim: ScimClient, five_users: list[str]) -> None:
    seen: list[str] = []
    for start in (1, 3, 5):
        seen += user_names(
            scim.get(f"/Users?sortBy=userName&startIndex={start}&count=2")
        )

    assert seen == ["alice", "bob", "carol", "dave", "eve"]


@pytest.mark.parametrize(
    ("start", "count", "page"),
    [(1, 2, 2), (5, 2, 1), (4, 2, 2), (6, 2, 0), (9, 2, 0), (1, 10, 5), (2, 5, 4)],
)
def test_total_is_the_same_on_every_page(
    scim: ScimClient, five_users: list[str], start: int, count: int, page: int
) -> None:
    body = scim.get(f"/Users?startIndex={start}&count={count}").get_json()

    assert body["totalResults"] == 5
    assert len(body["Resources"]) == body["itemsPerPage"] == page


def test_total_of_a_filter_matching_nothing_is_zero(
    scim: ScimClient, five_users: list[str]
) -> None:
    nobody = quote('userName eq "nobody"')
    body = scim.get(f"/Users?filter={nobody}").get_json()

    assert body["totalResults"] == 0 and body["Resources"] == []


def test_sort_descending(scim: ScimClient, five_users: list[str]) -> None:
    response = scim.get("/Users?sortBy=userName&sortOrder=descending")

    assert user_names(response) == ["eve", "dave", "carol", "bob", "alice"]


def test_count_zero_returns_only_the_total(
    scim: ScimClient, five_users: list[str]
) -> None:
    body = scim.get("/Users?count=0").get_json()

    assert body["totalResults"] == 5
    assert body["Resources"] == []


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('userName eq "ALICE"', ["alice"]),
        ('userName sw "d" or userName ew "e"', ["alice", "dave", "eve"]),
        ('emails[type eq "work" and value co "bob@"]', ["bob"]),
        (
            'emails.value ew "@example.com" and not (userName eq "eve")',
            ["alice", "bob", "carol", "dave"],
        ),
        (
            'meta.lastModified gt "2000-01-01T00:00:00Z"',
            ["alice", "bob", "carol", "dave", "eve"],
        ),
        ("active eq true", ["alice", "bob", "carol", "dave", "eve"]),
        ("nickName pr", []),
    ],
)
def test_filters(
    scim: ScimClient, five_users: list[str], filter_text: str, expected: list[str]
) -> None:
    response = scim.get(f"/Users?sortBy=userName&filter={quote(filter_text)}")

    assert response.status_code == 200, response.get_json()
    assert user_names(response) == expected


@pytest.mark.parametrize(
    "filter_text",
    ["userName eq", 'noSuchAttribute eq "x"', 'userName regex "a"', '(userName eq "a"'],
)
def test_bad_filter_is_invalid_filter(scim: ScimClient, filter_text: str) -> None:
    assert_error(scim.get(f"/Users?filter={quote(filter_text)}"), 400, "invalidFilter")


@pytest.mark.parametrize("query", ["count=many", "startIndex=x", "sortOrder=up"])
def test_bad_paging_parameters(scim: ScimClient, query: str) -> None:
    assert_error(scim.get(f"/Users?{query}"), 400, "invalidValue")
