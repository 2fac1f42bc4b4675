"""A Group with more members than a page is answered as a stream, unchanged.

The page is shrunk to two members here: a Group of five then streams in three
pages, and every response must equal the one built whole.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from scimserver.scim import member_stream
from tests.conftest import ScimClient
from tests.policy.http.conftest import client_with
from tests.scim.test_api_groups import GROUP, create_group, patch
from tests.scim.test_api_users import create_user


@pytest.fixture
def members(scim: ScimClient) -> list[str]:
    """Four Users and a Group as members, in no particular id order."""
    users = [
        create_user(scim, f"user{n}", displayName=f"User {n}")["id"] for n in range(4)
    ]
    return [*users, create_group(scim, "Nested")["id"]]


def both_ways(request: Any) -> tuple[Any, Any]:
    """The response built whole, then the same request streamed.

    A server reads a streamed body at once; so does this, before the next
    request (and with the page still shrunk).
    """
    whole = request()
    assert "Content-Length" in whole.headers
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(member_stream, "PAGE", 2)
        streamed = request()
        assert "Content-Length" not in streamed.headers  # Written as it is read.
        streamed.get_data()
    return whole, streamed


def assert_same(whole: Any, streamed: Any) -> None:
    assert streamed.status_code == whole.status_code == 200
    assert streamed.get_json() == whole.get_json()
    assert streamed.headers["ETag"] == whole.headers["ETag"]
    assert streamed.mimetype == whole.mimetype == "application/scim+json"


@pytest.mark.parametrize(
    "query",
    ["", "?attributes=members.display", "?excludedAttributes=members.type,meta"],
)
def test_a_large_group_reads_the_same_streamed(
    scim: ScimClient, members: list[str], query: str
) -> None:
    group = create_group(scim, "Everyone", members)

    whole, streamed = both_ways(lambda: scim.get(f"/Groups/{group['id']}{query}"))

    assert_same(whole, streamed)
    listed = streamed.get_json()["members"]
    assert len(listed) == 5
    assert all(("display" in m) == ("display" in query) for m in listed)
    if not query:
        assert [m["value"] for m in listed] == sorted(members)


def test_writes_answer_a_large_group_streamed(
    scim: ScimClient, members: list[str]
) -> None:
    group = create_group(scim, "Everyone", members[:-1])
    add = {"op": "add", "path": "members", "value": [{"value": members[-1]}]}
    rename = {"op": "replace", "path": "displayName", "value": "All"}
    body: dict[str, Any] = {"schemas": [GROUP], "displayName": "New"}
    body["members"] = [{"value": member} for member in members]

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(member_stream, "PAGE", 2)
        patched_group = patch(scim, group["id"], rename, add)
        assert "Content-Length" not in patched_group.headers
        patched_group.get_data()
        created = scim.post("/Groups", body)
        assert "Content-Length" not in created.headers
        created.get_data()

    assert_same(scim.get(f"/Groups/{group['id']}"), patched_group)
    assert len(patched_group.get_json()["members"]) == 5
    assert created.status_code == 201
    new_id = created.get_json()["id"]
    assert created.get_json() == scim.get(f"/Groups/{new_id}").get_json()
    assert created.headers["Location"] == created.get_json()["meta"]["location"]


def test_a_pseudonymous_client_gets_the_whole_response(
    app: Flask, scim: ScimClient, members: list[str]
) -> None:
    group = create_group(scim, "Everyone", members)
    lms = client_with(
        app,
        scim,
        "lms",
        {
            "read": {"classifications": ["public", "internal"]},
            "pseudonymous": {"enabled": True, "sector": "lms"},
        },
    )

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(member_stream, "PAGE", 2)
        response = lms.get(f"/Groups/{group['id']}")
        assert "Content-Length" in response.headers

    assert response.status_code == 200, response.get_data(as_text=True)
    shown = {m["value"] for m in response.get_json()["members"]}
    assert len(shown) == 5 and not shown & set(members[:4])


@pytest.mark.parametrize(
    "query", ["", "?attributes=members.display,displayName", "?count=2"]
)
def test_a_list_page_streams_its_large_groups_and_reads_the_same(
    scim: ScimClient, members: list[str], query: str
) -> None:
    create_group(scim, "Everyone", members)
    create_group(scim, "Pair", members[:2])

    whole, streamed = both_ways(lambda: scim.get(f"/Groups{query}"))

    assert streamed.status_code == whole.status_code == 200
    assert streamed.mimetype == "application/scim+json"
    assert streamed.get_json() == whole.get_json()
    sizes = {
        group["displayName"]: len(group.get("members", []))
        for group in streamed.get_json()["Resources"]
    }
    assert sizes.get("Everyone", 5) == 5
    assert sizes.get("Pair", 2) == 2


def test_a_search_at_the_root_streams_large_groups_among_users(
    scim: ScimClient, members: list[str]
) -> None:
    create_group(scim, "Everyone", members)
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "sortBy": "meta.created",
    }

    whole, streamed = both_ways(lambda: scim.post("/.search", search))

    assert streamed.get_json() == whole.get_json()
    assert streamed.get_json()["totalResults"] == 6


def test_a_list_without_members_is_not_streamed(
    scim: ScimClient, members: list[str]
) -> None:
    create_group(scim, "Everyone", members)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(member_stream, "PAGE", 2)
        response = scim.get("/Groups?excludedAttributes=members")

    assert "Content-Length" in response.headers
    assert all("members" not in group for group in response.get_json()["Resources"])


def test_a_cohort_client_sees_the_same_members_streamed(
    app: Flask, scim: ScimClient, members: list[str]
) -> None:
    pilot = create_group(scim, "Pilot", members[:1])
    everyone = create_group(scim, "Everyone", members)
    create_group(scim, "Outsiders", members[1:4])
    policy = {
        "read": {"classifications": ["public", "internal"]},
        "cohort": {"group": pilot["id"]},
    }
    pilot_lms = client_with(app, scim, "pilot-lms", policy)

    whole, streamed = both_ways(lambda: pilot_lms.get("/Groups"))

    assert streamed.get_json() == whole.get_json()
    shown = {
        group["displayName"]: [member["value"] for member in group.get("members", [])]
        for group in streamed.get_json()["Resources"]
    }
    assert shown["Everyone"] == sorted([members[0], members[4]])
    assert shown["Outsiders"] == []
    single = pilot_lms.get(f"/Groups/{everyone['id']}")
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(member_stream, "PAGE", 1)  # Two members show: streamed.
        single_streamed = pilot_lms.get(f"/Groups/{everyone['id']}")
        assert "Content-Length" not in single_streamed.headers
        single_streamed.get_data()
    assert_same(single, single_streamed)
