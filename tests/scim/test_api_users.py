"""The Users endpoint over HTTP (RFC 7644 §3.3 to §3.6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import BASE_URL, ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user_payload(user_name: str = "bjensen", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": f"{user_name}@example.com", "type": "work"}],
        "active": True,
    }
    payload.update(extra)
    return payload


def create_user(scim: ScimClient, user_name: str = "bjensen", **extra: Any) -> Any:
    response = scim.post("/Users", user_payload(user_name, **extra))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_error(response: Any, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    body = response.get_json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    assert body.get("scimType") == scim_type


def test_create_returns_the_resource_with_meta_location_and_etag(
    scim: ScimClient,
) -> None:
    response = scim.post("/Users", user_payload(externalId="e-1"))

    assert response.status_code == 201
    body = response.get_json()
    assert response.mimetype == "application/scim+json"
    assert body["schemas"] == [USER]
    assert body["userName"] == "bjensen"
    assert body["externalId"] == "e-1"
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["location"] == f"{BASE_URL}/scim/v2/Users/{body['id']}"
    assert body["meta"]["created"] == body["meta"]["lastModified"]
    assert response.headers["Location"] == body["meta"]["location"]
    assert response.headers["ETag"] == body["meta"]["version"]


def test_get_returns_what_was_created(scim: ScimClient) -> None:
    created = create_user(scim)

    response = scim.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    assert response.get_json() == created


def test_password_is_stored_but_never_returned(scim: ScimClient) -> None:
    created = create_user(scim, password="s3cret-Passw0rd")

    fetched = scim.get(f"/Users/{created['id']}?attributes=password").get_json()

    assert "password" not in created
    assert "password" not in fetched


def test_user_name_is_unique_ignoring_case(scim: ScimClient) -> None:
    create_user(scim, "bjensen")

    response = scim.post("/Users", user_payload("BJensen"))

    assert_error(response, 409, "uniqueness")


def test_missing_required_user_name_is_rejected(scim: ScimClient) -> None:
    payload = user_payload()
    del payload["userName"]

    assert_error(scim.post("/Users", payload), 400, "invalidValue")


def test_unknown_id_is_404(scim: ScimClient) -> None:
    assert_error(scim.get("/Users/does-not-exist"), 404)


def test_put_replaces_all_attributes(scim: ScimClient) -> None:
    created = create_user(scim, nickName="Babs")
    replacement = user_payload(displayName="Barbara J")

    response = scim.put(f"/Users/{created['id']}", replacement)

    body = response.get_json()
    assert response.status_code == 200
    assert body["displayName"] == "Barbara J"
    assert "nickName" not in body
    assert body["meta"]["created"] == created["meta"]["created"]
    assert body["meta"]["version"] != created["meta"]["version"]


def test_patch_replaces_active_and_extension_attribute(scim: ScimClient) -> None:
    created = create_user(scim)
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "value": {"active": False}},
            {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
        ],
    }

    response = scim.patch(f"/Users/{created['id']}", patch)

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["active"] is False
    assert body[ENTERPRISE]["department"] == "Finance"
    assert ENTERPRISE in body["schemas"]


def test_failed_patch_changes_nothing(scim: ScimClient) -> None:
    created = create_user(scim)
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "noSuchAttribute", "value": "x"},
        ],
    }

    response = scim.patch(f"/Users/{created['id']}", patch)

    assert_error(response, 400, "invalidPath")
    assert "displayName" not in scim.get(f"/Users/{created['id']}").get_json()


def test_delete_then_get_is_404(scim: ScimClient) -> None:
    created = create_user(scim)

    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    assert_error(scim.get(f"/Users/{created['id']}"), 404)


def test_if_match_with_a_stale_version_is_412(scim: ScimClient) -> None:
    created = create_user(scim)
    stale = created["meta"]["version"]
    scim.put(f"/Users/{created['id']}", user_payload(displayName="New"))

    response = scim.put(
        f"/Users/{created['id']}", user_payload(), headers={"If-Match": stale}
    )

    assert_error(response, 412)


def test_if_match_with_the_current_version_succeeds(scim: ScimClient) -> None:
    created = create_user(scim)

    response = scim.delete(
        f"/Users/{created['id']}", headers={"If-Match": created["meta"]["version"]}
    )

    assert response.status_code == 204


def test_if_none_match_with_the_current_version_is_304(scim: ScimClient) -> None:
    created = create_user(scim)
    version = created["meta"]["version"]

    response = scim.get(f"/Users/{created['id']}", headers={"If-None-Match": version})

    assert response.status_code == 304
    assert response.headers["ETag"] == version


def test_schemas_lists_only_extensions_that_are_returned(scim: ScimClient) -> None:
    extension: dict[str, Any] = {
        "schemas": [USER, ENTERPRISE],
        ENTERPRISE: {"department": "Finance"},
    }
    created = create_user(scim, **extension)

    full = scim.get(f"/Users/{created['id']}").get_json()
    projected = scim.get(f"/Users/{created['id']}?attributes=userName").get_json()

    assert full["schemas"] == [USER, ENTERPRISE]
    assert projected["schemas"] == [USER]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("attributes=userName", {"schemas", "id", "userName"}),
        ("attributes=name.familyName", {"schemas", "id", "name"}),
        (
            "excludedAttributes=emails,meta",
            {"schemas", "id", "userName", "name", "active"},
        ),
        (
            "excludedAttributes=id",
            {"schemas", "id", "userName", "name", "emails", "active", "meta"},
        ),
    ],
)
def test_attributes_and_excluded_attributes(
    scim: ScimClient, query: str, expected: set[str]
) -> None:
    created = create_user(scim)

    body = scim.get(f"/Users/{created['id']}?{query}").get_json()

    assert set(body) == expected
    if "name" in expected and query.startswith("attributes"):
        assert body["name"] == {"familyName": "Jensen"}
