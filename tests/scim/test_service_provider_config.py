"""ServiceProviderConfig tells the truth: every advertised feature works (RFC 7643 §5).

Each test reads the advertisement first; a feature the server advertises without a
check here fails :func:`test_every_advertised_feature_has_a_check`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.conftest import ScimClient
from tests.scim.test_api_users import PATCH_OP, create_user

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CHECKED = {
    "patch",
    "bulk",
    "filter",
    "changePassword",
    "sort",
    "etag",
    "pagination",
    "authenticationSchemes",
}


def advertised(scim: ScimClient) -> dict[str, Any]:
    body: dict[str, Any] = scim.get("/ServiceProviderConfig").get_json()
    return body


def test_every_advertised_feature_has_a_check(scim: ScimClient) -> None:
    features = set(advertised(scim)) - {"schemas", "meta", "documentationUri"}

    assert features == CHECKED


def test_patch(scim: ScimClient) -> None:
    assert advertised(scim)["patch"]["supported"] is True
    user = create_user(scim)

    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": "Nurse"}],
    }
    response = scim.patch(f"/Users/{user['id']}", body)

    assert response.get_json()["title"] == "Nurse"


def test_bulk_and_its_limits(scim: ScimClient) -> None:
    bulk = advertised(scim)["bulk"]
    assert bulk["supported"] is True
    operation = {
        "method": "POST",
        "path": "/Users",
        "bulkId": "a",
        "data": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bulky",
        },
    }

    applied = scim.post("/Bulk", {"schemas": [BULK], "Operations": [operation]})
    too_many = scim.post(
        "/Bulk",
        {"schemas": [BULK], "Operations": [operation] * (bulk["maxOperations"] + 1)},
    )

    assert applied.get_json()["Operations"][0]["status"] == "201"
    assert too_many.status_code == 413


def test_filter_and_max_results(scim: ScimClient) -> None:
    settings = advertised(scim)["filter"]
    assert settings["supported"] is True
    create_user(scim, "carol")

    found = scim.get("/Users?filter=" + quote('userName eq "carol"')).get_json()
    capped = scim.get(f"/Users?count={settings['maxResults'] + 50}").get_json()

    assert found["totalResults"] == 1
    assert capped["itemsPerPage"] <= settings["maxResults"]


def test_change_password(scim: ScimClient) -> None:
    assert advertised(scim)["changePassword"]["supported"] is True
    user = create_user(scim)

    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "password", "value": "n3w-Secret!"}],
    }
    response = scim.patch(f"/Users/{user['id']}", body)

    assert response.status_code == 200
    assert "password" not in response.get_json()


def test_sort(scim: ScimClient) -> None:
    assert advertised(scim)["sort"]["supported"] is True
    for name in ("bob", "alice"):
        create_user(scim, name)

    body = scim.get("/Users?sortBy=userName").get_json()

    assert [r["userName"] for r in body["Resources"]] == ["alice", "bob"]


def test_etag(scim: ScimClient) -> None:
    assert advertised(scim)["etag"]["supported"] is True
    user = create_user(scim)

    response = scim.get(
        f"/Users/{user['id']}", headers={"If-None-Match": user["meta"]["version"]}
    )

    assert response.status_code == 304


def test_cursor_and_index_pagination(scim: ScimClient) -> None:
    pagination = advertised(scim)["pagination"]
    assert pagination["cursor"] is True and pagination["index"] is True
    for name in ("a1", "a2", "a3"):
        create_user(scim, name)

    first = scim.get("/Users?cursor&count=2").get_json()
    second = scim.get(f"/Users?cursor={first['nextCursor']}&count=2").get_json()
    indexed = scim.get("/Users?startIndex=3&count=2").get_json()

    assert len(first["Resources"]) == 2 and len(second["Resources"]) == 1
    assert len(indexed["Resources"]) == 1


def test_bearer_authentication(scim: ScimClient) -> None:
    schemes = advertised(scim)["authenticationSchemes"]
    assert [s["type"] for s in schemes] == ["oauthbearertoken"]

    assert scim.get("/Users").status_code == 200
    assert ScimClient(scim.client, "wrong").get("/Users").status_code == 401
