"""Bulk (RFC 7644 §3.7) over HTTP, on SQLite and PostgreSQL, and its planning."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from scimserver.policy.client_settings import Profile
from scimserver.scim.bulk_plan import References, Step, find_references, plan_steps
from tests.conftest import BASE_URL, ScimClient, make_token
from tests.scim.test_api_groups import GROUP, member_ids
from tests.scim.test_api_users import (
    ENTERPRISE,
    ERROR,
    PATCH_OP,
    USER,
    assert_error,
    create_user,
    user_payload,
)
from tests.support.clients import profile_client

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


def send(scim: ScimClient, *operations: dict[str, Any], **extra: Any) -> Any:
    body = {"schemas": [BULK_REQUEST], "Operations": list(operations), **extra}
    return scim.post("/Bulk", body)


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["schemas"] == [BULK_RESPONSE]
    operations: list[dict[str, Any]] = body["Operations"]
    return operations


def statuses(response: Any) -> list[str]:
    return [result["status"] for result in results(response)]


def post_user(bulk_id: str, user_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": user_payload(user_name, **extra),
    }


def post_group(bulk_id: str, name: str, *members: str) -> dict[str, Any]:
    data: dict[str, Any] = {"schemas": [GROUP], "displayName": name}
    data["members"] = [{"value": member} for member in members]
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": data}


def id_of(result: dict[str, Any]) -> str:
    location: str = result["location"]
    return location.rsplit("/", 1)[1]


def count(scim: ScimClient, endpoint: str) -> int:
    total: int = scim.get(endpoint).get_json()["totalResults"]
    return total


def limit(app: Flask, **overrides: int) -> None:
    """Change limits of the running app, as ``create_app`` would set them."""
    app.config["SETTINGS"] = app.config["SETTINGS"].with_overrides(overrides)
    app.config["MAX_CONTENT_LENGTH"] = app.config["SETTINGS"].max_body_bytes


def test_rfc_example_user_and_group_in_one_request(scim: ScimClient) -> None:
    """RFC 7644 §3.7.2: a new group holds a user created in the same request."""
    alice = post_user("qwerty", "Alice")
    tour_guides = post_group("ytrewq", "Tour Guides", "bulkId:qwerty")
    tour_guides["data"]["members"][0]["type"] = "User"

    user, group = results(send(scim, alice, tour_guides))

    assert user["status"] == "201"
    assert user["bulkId"] == "qwerty"
    assert user["method"] == "POST"
    assert user["location"] == f"{BASE_URL}/scim/v2/Users/{id_of(user)}"
    assert user["version"] == 'W/"1"'
    assert "response" not in user
    fetched = scim.get(f"/Groups/{id_of(group)}").get_json()
    assert member_ids(fetched) == {id_of(user)}


def test_rfc_example_manager_refers_to_a_new_user(scim: ScimClient) -> None:
    """RFC 7644 §3.7.2: extension values such as the manager take bulkIds too."""
    bob = post_user(
        "ytrewq",
        "Bob",
        schemas=[USER, ENTERPRISE],
        **{
            ENTERPRISE: {
                "employeeNumber": "11250",
                "manager": {"value": "bulkId:qwerty"},
            }
        },
    )

    alice, created = results(send(scim, post_user("qwerty", "Alice"), bob))

    fetched = scim.get(f"/Users/{id_of(created)}").get_json()
    assert fetched[ENTERPRISE]["manager"]["value"] == id_of(alice)


def test_rfc_example_circular_groups_are_resolved(scim: ScimClient) -> None:
    """RFC 7644 §3.7.1: two groups that hold each other are both created."""
    group_a = post_group("qwerty", "Group A", "bulkId:ytrewq")
    group_b = post_group("ytrewq", "Group B", "bulkId:qwerty")

    created_a, created_b = results(send(scim, group_a, group_b))

    assert [created_a["status"], created_b["status"]] == ["201", "201"]
    fetched_a = scim.get(f"/Groups/{id_of(created_a)}").get_json()
    fetched_b = scim.get(f"/Groups/{id_of(created_b)}").get_json()
    assert member_ids(fetched_a) == {id_of(created_b)}
    assert member_ids(fetched_b) == {id_of(created_a)}


def test_rfc_example_create_replace_patch_delete(scim: ScimClient) -> None:
    """RFC 7644 §3.7.3: each method's status, location and version."""
    replaced = create_user(scim, "bjensen")
    patched = create_user(scim, "jsmith")
    deleted = create_user(scim, "gone")
    operations = [
        post_user("qwerty", "Alice"),
        {
            "method": "PUT",
            "path": f"/Users/{replaced['id']}",
            "version": replaced["meta"]["version"],
            "data": user_payload("bjensen", nickName="Babs"),
        },
        {
            "method": "PATCH",
            "path": f"/Users/{patched['id']}",
            "version": patched["meta"]["version"],
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            },
        },
        {
            "method": "DELETE",
            "path": f"/Users/{deleted['id']}",
            "version": deleted["meta"]["version"],
        },
    ]

    post, put, patch, delete = results(send(scim, *operations, failOnErrors=1))

    assert [r["status"] for r in (post, put, patch, delete)] == [
        "201",
        "200",
        "200",
        "204",
    ]
    assert put["location"] == replaced["meta"]["location"]
    assert put["version"] == 'W/"2"'
    assert (
        patch["version"]
        == scim.get(f"/Users/{patched['id']}").get_json()["meta"]["version"]
    )
    assert "version" not in delete
    assert delete["location"] == deleted["meta"]["location"]
    assert scim.get(f"/Users/{replaced['id']}").get_json()["nickName"] == "Babs"
    assert scim.get(f"/Users/{patched['id']}").get_json()["active"] is False
    assert_error(scim.get(f"/Users/{deleted['id']}"), 404)


@pytest.mark.parametrize(("fail_on_errors", "ran"), [(1, 1), (2, 3), (None, 4)])
def test_rfc_example_fail_on_errors_stops_after_that_many_errors(
    scim: ScimClient, fail_on_errors: int | None, ran: int
) -> None:
    """RFC 7644 §3.7.3: failOnErrors stops processing; the rest does not run."""
    invalid = {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}}
    operations = [
        invalid,
        post_user("b", "second"),
        {**invalid, "bulkId": "c"},
        post_user("d", "fourth"),
    ]
    extra = {} if fail_on_errors is None else {"failOnErrors": fail_on_errors}

    done = results(send(scim, *operations, **extra))

    assert [r["bulkId"] for r in done] == ["a", "b", "c", "d"][:ran]
    assert done[0]["status"] == "400"
    assert done[0]["response"]["schemas"] == [ERROR]
    assert "location" not in done[0]
    assert count(scim, "/Users") == sum(r["status"] == "201" for r in done)


def test_group_and_members_created_in_reverse_order(scim: ScimClient) -> None:
    operations = [
        post_group("team", "Team", "bulkId:alice", "bulkId:bob"),
        post_user("alice", "alice"),
        post_user("bob", "bob"),
    ]

    group, alice, bob = results(send(scim, *operations))

    assert [group["bulkId"], alice["bulkId"], bob["bulkId"]] == ["team", "alice", "bob"]
    fetched = scim.get(f"/Groups/{id_of(group)}").get_json()
    assert member_ids(fetched) == {id_of(alice), id_of(bob)}


def test_patch_and_delete_by_bulk_id(scim: ScimClient) -> None:
    existing = create_user(scim, "existing")
    operations = [
        {
            "method": "PATCH",
            "path": "/Users/bulkId:new",
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "nickName", "value": "Nico"}],
            },
        },
        post_user("new", "new"),
        {"method": "DELETE", "path": f"/Users/{existing['id']}"},
        post_group("team", "Team", "bulkId:new", existing["id"]),
    ]

    patched, created, deleted, team = results(send(scim, *operations))

    assert [patched["status"], created["status"], deleted["status"]] == [
        "200",
        "201",
        "204",
    ]
    assert patched["location"] == created["location"]
    assert patched["version"] == 'W/"2"'
    assert scim.get(f"/Users/{id_of(created)}").get_json()["nickName"] == "Nico"
    assert team["status"] == "400"
    assert team["response"]["scimType"] == "invalidValue"


@pytest.mark.parametrize(
    ("middle", "status", "scim_type"),
    [
        ({"schemas": [USER]}, "400", "invalidValue"),
        (user_payload("first"), "409", "uniqueness"),
        (
            {"schemas": [GROUP], "displayName": "T", "members": [{"value": "x"}]},
            "400",
            "invalidValue",
        ),
    ],
    ids=["missing-userName", "taken-userName", "unknown-member"],
)
def test_failed_operation_leaves_nothing_and_others_stay(
    scim: ScimClient, middle: dict[str, Any], status: str, scim_type: str
) -> None:
    endpoint = "/Groups" if GROUP in middle["schemas"] else "/Users"
    operations = [
        post_user("first", "first"),
        {"method": "POST", "path": endpoint, "bulkId": "middle", "data": middle},
        post_user("last", "last"),
    ]

    first, failed, last = results(send(scim, *operations))

    assert [first["status"], failed["status"], last["status"]] == ["201", status, "201"]
    assert failed["response"]["status"] == status
    assert failed["response"].get("scimType") == scim_type
    assert count(scim, "/Users") == 2
    assert count(scim, "/Groups") == 0


@pytest.mark.parametrize(
    ("reference", "detail"),
    [("bulkId:nobody", "No operation"), ("bulkId:broken", "failed")],
)
def test_unresolved_bulk_id_is_a_conflict(
    scim: ScimClient, reference: str, detail: str
) -> None:
    broken = {"method": "POST", "path": "/Users", "bulkId": "broken", "data": {}}
    operations = [broken, post_group("team", "Team", reference)]

    _broken, team = results(send(scim, *operations))

    assert team["status"] == "409"
    assert detail in team["response"]["detail"]
    assert "location" not in team
    assert count(scim, "/Groups") == 0


def test_circle_that_members_cannot_break_is_a_conflict(scim: ScimClient) -> None:
    """RFC 7644 §3.7.1: two users who manage each other cannot be created."""

    def managed_by(bulk_id: str, user_name: str, manager: str) -> dict[str, Any]:
        extension = {"manager": {"value": f"bulkId:{manager}"}}
        return post_user(
            bulk_id, user_name, schemas=[USER, ENTERPRISE], **{ENTERPRISE: extension}
        )

    operations = [
        managed_by("a", "ann", "b"),
        managed_by("b", "ben", "a"),
        post_user("c", "cid"),
    ]

    assert statuses(send(scim, *operations)) == ["409", "409", "201"]
    assert count(scim, "/Users") == 1


def test_circle_fails_as_a_whole(scim: ScimClient) -> None:
    operations = [
        post_group("a", "Group A", "bulkId:b"),
        post_group("b", "Group B", "bulkId:a", "not-a-resource"),
    ]

    group_a, group_b = results(send(scim, *operations))

    assert group_b["status"] == "400"
    assert group_a["status"] == "409"
    assert "bulkId 'b'" in group_a["response"]["detail"]
    assert count(scim, "/Groups") == 0


def test_group_cannot_hold_itself_by_bulk_id(scim: ScimClient) -> None:
    response = send(scim, post_group("a", "Group A", "bulkId:a"))

    assert statuses(response) == ["400"]
    assert count(scim, "/Groups") == 0


def test_stale_version_fails_only_its_operation(scim: ScimClient) -> None:
    user = create_user(scim, "bjensen")
    stale = {
        "method": "PUT",
        "path": f"/Users/{user['id']}",
        "version": 'W/"99"',
        "data": user_payload("bjensen", nickName="Babs"),
    }

    put, post = results(send(scim, stale, post_user("x", "other")))

    assert put["status"] == "412"
    assert put["location"] == user["meta"]["location"]
    assert [post["status"], count(scim, "/Users")] == ["201", 2]
    assert "nickName" not in scim.get(f"/Users/{user['id']}").get_json()


@pytest.mark.parametrize(
    ("operation", "status", "scim_type"),
    [
        ({"method": "GET", "path": "/Users"}, "400", "invalidSyntax"),
        (
            {"method": "POST", "path": "/Users", "data": user_payload()},
            "400",
            "invalidSyntax",
        ),
        ({"method": "POST", "path": "/Users", "bulkId": "x"}, "400", "invalidSyntax"),
        ({"method": "PATCH", "path": "/Users/x", "data": []}, "400", "invalidSyntax"),
        ({"method": "DELETE", "path": "Users/x"}, "400", "invalidSyntax"),
        ({"method": "DELETE", "path": "/Users"}, "405", None),
        ({"method": "POST", "path": "/Things", "bulkId": "x", "data": {}}, "404", None),
        ({"method": "DELETE", "path": "/Users/unknown"}, "404", None),
        ("DELETE /Users/x", "400", "invalidSyntax"),
    ],
)
def test_malformed_operation_fails_alone(
    scim: ScimClient, operation: Any, status: str, scim_type: str | None
) -> None:
    failed, created = results(send(scim, operation, post_user("ok", "ok")))

    assert failed["status"] == status
    assert failed["response"]["status"] == status
    assert failed["response"].get("scimType") == scim_type
    assert created["status"] == "201"


def test_repeated_bulk_id_fails_the_later_operation(scim: ScimClient) -> None:
    operations = [post_user("x", "first"), post_user("x", "second")]

    first, second = results(send(scim, *operations))

    assert first["status"] == "201"
    assert second["response"]["scimType"] == "invalidSyntax"


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": []},
        {"schemas": [BULK_REQUEST], "Operations": {}},
        {"schemas": [BULK_REQUEST], "Operations": [], "failOnErrors": 0},
        {"schemas": [BULK_REQUEST], "Operations": [], "failOnErrors": "1"},
    ],
)
def test_malformed_request_is_invalid_syntax(
    scim: ScimClient, body: dict[str, Any]
) -> None:
    assert_error(scim.post("/Bulk", body), 400, "invalidSyntax")


def test_empty_request_gives_empty_response(scim: ScimClient) -> None:
    assert results(send(scim)) == []


def test_max_operations_is_enforced(app: Flask, scim: ScimClient) -> None:
    """RFC 7644 §3.7.4: too many operations fail the request with 413."""
    limit(app, bulk_max_operations=2)
    operations = [post_user(str(n), f"user{n}") for n in range(3)]

    response = send(scim, *operations)

    assert_error(response, 413)
    assert "maxOperations is 2" in response.get_json()["detail"]
    assert count(scim, "/Users") == 0
    assert statuses(send(scim, *operations[:2])) == ["201", "201"]


def test_max_payload_size_is_enforced(app: Flask, scim: ScimClient) -> None:
    """RFC 7644 §3.7.4: too large a payload fails the request with 413."""
    limit(app, bulk_max_payload_bytes=1000)

    response = send(scim, post_user("big", "big", displayName="x" * 1000))

    assert_error(response, 413)
    assert "maxPayloadSize (1000 bytes)" in response.get_json()["detail"]
    assert count(scim, "/Users") == 0


def test_bulk_body_may_exceed_the_limit_of_other_requests(
    app: Flask, scim: ScimClient
) -> None:
    limit(app, max_body_bytes=1000, bulk_max_payload_bytes=10_000)
    payload = user_payload("big", displayName="x" * 2000)

    response = send(
        scim, {"method": "POST", "path": "/Users", "bulkId": "b", "data": payload}
    )

    assert statuses(response) == ["201"]
    assert_error(
        scim.post("/Users", user_payload("other", displayName="x" * 2000)), 413
    )


def test_bulk_needs_the_write_scope(app: Flask, client: FlaskClient) -> None:
    reader = ScimClient(client, make_token(app, "lms", ["scim:read"]))

    assert_error(send(reader, post_user("x", "x")), 403)


def test_a_unique_index_clash_fails_only_its_operation(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clash caught by the database, not by the pre-check, stays in its savepoint.

    The last two operations are created together, in one multi-row INSERT.
    """
    monkeypatch.setattr(
        "scimserver.scim.store.ResourceStore._check_unique", lambda *_args: None
    )
    monkeypatch.setattr(
        "scimserver.scim.store.ResourceStore.first_clash", lambda *_args: None
    )
    before = [post_user(str(n), f"user{n}") for n in range(3)]
    operations = [*before, post_user("a", "same"), post_user("b", "SAME")]

    response = send(scim, *operations)

    statuses = [op["status"] for op in response.get_json()["Operations"]]
    assert statuses == ["201", "201", "201", "201", "409"]
    assert response.get_json()["Operations"][4]["response"]["scimType"] == "uniqueness"
    assert count(scim, "/Users") == 4


def test_failures_inside_batches_leave_the_others_applied(scim: ScimClient) -> None:
    invalid = {30, 31, 75, 119}
    operations = [
        post_user(f"u{n}", f"user{n}")
        if n not in invalid
        else {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": {}}
        for n in range(120)
    ]
    patches = [
        {
            "method": "PATCH",
            "path": f"/Users/bulkId:u{n}",
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "nickName", "value": f"n{n}"}],
            },
        }
        for n in (29, 30, 76)
    ]

    done = statuses(send(scim, *operations, *patches))

    assert [n for n, status in enumerate(done[:120]) if status != "201"] == sorted(
        invalid
    )
    assert done[120:] == ["200", "409", "200"]
    assert count(scim, "/Users") == 120 - len(invalid)
    nick_names = scim.get("/Users?filter=nickName pr").get_json()["Resources"]
    assert {user["nickName"] for user in nick_names} == {"n29", "n76"}


@pytest.fixture
def savepoints(monkeypatch: pytest.MonkeyPatch) -> list[Session]:
    """The sessions of every savepoint begun while the test runs, in order."""
    begun: list[Session] = []
    begin_nested = Session.begin_nested

    def counted(session: Session) -> Any:
        begun.append(session)
        return begin_nested(session)

    monkeypatch.setattr(Session, "begin_nested", counted)
    return begun


def test_operations_share_savepoints(
    scim: ScimClient, savepoints: list[Session]
) -> None:
    operations = [post_user(f"u{n}", f"user{n}") for n in range(40)]

    assert statuses(send(scim, *operations)) == ["201"] * 40
    assert len(savepoints) < 10


def test_users_created_together_read_back_as_posted(scim: ScimClient) -> None:
    """Batches of POSTs are stored together; each reads back as a POST's would."""
    operations = [
        post_user(
            f"u{n}",
            f"User{n}",
            externalId=f"E{n}",
            schemas=[USER, ENTERPRISE],
            **{ENTERPRISE: {"employeeNumber": str(n)}},
        )
        for n in range(12)
    ]

    done = results(send(scim, *operations))

    assert [result["status"] for result in done] == ["201"] * 12
    for n, result in enumerate(done):
        user = scim.get(f"/Users/{id_of(result)}").get_json()
        assert user["userName"] == f"User{n}"
        assert user["externalId"] == f"E{n}"
        assert user["emails"] == [{"value": f"User{n}@example.com", "type": "work"}]
        assert user[ENTERPRISE] == {"employeeNumber": str(n)}
        assert user["meta"]["version"] == result["version"]
        assert user["meta"]["location"] == result["location"]
        assert user["meta"]["created"] == user["meta"]["lastModified"]
    found = scim.get('/Users?filter=emails.value eq "user7@example.com"').get_json()
    assert [user["userName"] for user in found["Resources"]] == ["User7"]
    found = scim.get(f'/Users?filter={ENTERPRISE}:employeeNumber eq "9"').get_json()
    assert [user["userName"] for user in found["Resources"]] == ["User9"]


def test_a_user_name_repeated_in_a_batch_fails_only_the_later_one(
    scim: ScimClient,
) -> None:
    """Operations 7 to 14 share a batch (1, 2, 4, then 8 operations)."""
    operations = [post_user(f"u{n}", f"user{n}") for n in range(16)]
    operations[12] = post_user("u12", "USER8")

    response = send(scim, *operations)

    done = statuses(response)
    assert done == ["201"] * 12 + ["409"] + ["201"] * 3
    assert results(response)[12]["response"]["scimType"] == "uniqueness"
    assert count(scim, "/Users") == 15


def test_a_user_name_already_stored_fails_only_its_operation(
    scim: ScimClient,
) -> None:
    create_user(scim, "taken")
    operations = [post_user(f"u{n}", f"user{n}") for n in range(12)]
    operations[6] = post_user("u6", "Taken")

    response = send(scim, *operations)

    assert statuses(response) == ["201"] * 6 + ["409"] + ["201"] * 5
    assert results(response)[6]["response"]["scimType"] == "uniqueness"
    assert count(scim, "/Users") == 12


def test_a_failure_in_a_batch_costs_one_retry_of_the_others(
    scim: ScimClient, savepoints: list[Session]
) -> None:
    """The operations before the failed one run again together, not one by one."""
    operations = [post_user(f"u{n}", f"user{n}") for n in range(64)]
    operations[45] = {"method": "POST", "path": "/Users", "bulkId": "x", "data": {}}

    done = statuses(send(scim, *operations))

    assert [n for n, status in enumerate(done) if status != "201"] == [45]
    # 1, 2, 4, 8, 16, then 32 that fail at 45; 14 again, 45 alone, 1, 2, 4, 8, 3.
    assert len(savepoints) == 13


def test_groups_created_together_keep_their_members(scim: ScimClient) -> None:
    alice, bob = create_user(scim, "alice")["id"], create_user(scim, "bob")["id"]
    operations = [post_group(f"g{n}", f"team{n}", alice, bob) for n in range(6)]
    operations[4] = post_group("g4", "team4", alice, "no-such-user")

    response = send(scim, *operations)

    assert statuses(response) == ["201"] * 4 + ["400"] + ["201"]
    assert results(response)[4]["response"]["scimType"] == "invalidValue"
    for result in results(response)[:4]:
        group = scim.get(f"/Groups/{id_of(result)}").get_json()
        assert sorted(member_ids(group)) == sorted([alice, bob])


@pytest.mark.parametrize("profile", [Profile.ENTRA, Profile.OKTA])
def test_a_rehiring_profile_rehires_in_a_batch(
    app: Flask, client: FlaskClient, profile: Profile
) -> None:
    """POSTs that may rehire are applied one after the other, in order."""
    scim = profile_client(app, client, profile)
    user = create_user(scim, "jdoe", externalId="emp-42")
    deactivate = {"op": "replace", "path": "active", "value": False}
    scim.patch(
        f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [deactivate]}
    )
    operations = [post_user(f"u{n}", f"user{n}") for n in range(6)]
    operations[4] = post_user("u4", "jdoe2", externalId="emp-42")

    done = results(send(scim, *operations))

    assert [result["status"] for result in done] == ["201"] * 6
    assert id_of(done[4]) == user["id"]
    assert scim.get(f"/Users/{user['id']}").get_json()["userName"] == "jdoe2"
    assert count(scim, "/Users") == 6


def refs(*needed: str, deferrable: tuple[str, ...] = ()) -> References:
    return References(frozenset(needed), frozenset(deferrable))


@pytest.mark.parametrize(
    ("resource_id", "data", "members", "expected"),
    [
        ("bulkId:a", None, None, refs("a")),
        (None, {"manager": {"value": "bulkId:b"}}, None, refs("b")),
        (None, {"members": [{"value": "bulkId:c"}]}, None, refs("c")),
        (
            None,
            {"Members": [{"Value": "bulkId:c"}]},
            "members",
            refs(deferrable=("c",)),
        ),
        (None, {"members": [{"$ref": "bulkId:d"}]}, "members", refs("d")),
        (None, {"displayName": "bulkId"}, None, refs()),
        (None, {"x": ["bulkId:e", {"y": "bulkId:f"}]}, None, refs("e", "f")),
    ],
)
def test_find_references(
    resource_id: str | None, data: Any, members: str | None, expected: References
) -> None:
    assert find_references(resource_id, data, members) == expected


def test_plan_runs_a_referenced_post_first_and_keeps_the_rest_in_order() -> None:
    references = [refs(), refs("later"), refs(), refs()]

    steps = plan_steps(references, {"later": 3})

    assert steps == [Step((0,)), Step((3,)), Step((1,)), Step((2,))]


def test_plan_orders_a_long_chain_without_recursion() -> None:
    size = 5000
    references = [refs(f"b{n + 1}") for n in range(size - 1)] + [refs()]

    steps = plan_steps(references, {f"b{n}": n for n in range(size)})

    assert [step.operations[0] for step in steps] == list(reversed(range(size)))


@pytest.mark.parametrize(
    ("references", "expected"),
    [
        (
            [refs(deferrable=("b",)), refs(deferrable=("a",))],
            Step((0, 1), circular=True),
        ),
        ([refs("b"), refs(deferrable=("a",))], Step((1, 0), circular=True)),
        ([refs("b"), refs("a")], Step((0, 1), circular=True, resolvable=False)),
        ([refs("a"), refs()], Step((0,), circular=True, resolvable=False)),
    ],
    ids=["members-both-ways", "one-needed-edge", "needed-both-ways", "self"],
)
def test_plan_of_a_circle(references: list[References], expected: Step) -> None:
    steps = plan_steps(references, {"a": 0, "b": 1})

    assert steps[0] == expected
