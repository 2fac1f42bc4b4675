"""The /Me alias of the authenticated person's User (RFC 7644 §3.11)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver.policy import subject
from tests.conftest import BASE_URL, ScimClient, make_token
from tests.scim.test_api_groups import create_group
from tests.scim.test_api_users import PATCH_OP, assert_error, create_user, user_payload


def act_as(monkeypatch: pytest.MonkeyPatch, user_id: str) -> None:
    """Make every token represent the person with ``user_id``."""
    monkeypatch.setattr(subject, "current_subject", lambda: user_id)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "POST"])
def test_me_of_a_system_client_is_501(scim: ScimClient, method: str) -> None:
    body = user_payload() if method in ("PUT", "POST") else None

    response = scim.request(method, "/Me", body)

    assert_error(response, 501)
    assert "/Users/{id}" in response.get_json()["detail"]


def test_me_needs_a_token(client: FlaskClient) -> None:
    assert_error(client.get("/scim/v2/Me"), 401)


def test_get_me_is_the_person_s_user(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = create_user(scim, "bjensen")
    act_as(monkeypatch, user["id"])

    response = scim.get("/Me")

    assert response.status_code == 200
    assert response.get_json() == scim.get(f"/Users/{user['id']}").get_json()
    assert response.headers["Location"] == f"{BASE_URL}/scim/v2/Users/{user['id']}"
    assert response.headers["ETag"] == user["meta"]["version"]


def test_get_me_honours_attributes(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = create_user(scim, "bjensen")
    act_as(monkeypatch, user["id"])

    body = scim.get("/Me?attributes=userName").get_json()

    assert set(body) == {"schemas", "id", "userName"}


def test_patch_and_put_me_change_the_user(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = create_user(scim, "bjensen")
    act_as(monkeypatch, user["id"])
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "nickName", "value": "Babs"}],
    }

    patched = scim.patch("/Me", patch)
    replaced = scim.put("/Me", user_payload("bjensen", title="Tour Guide"))

    assert patched.status_code == 200 and patched.get_json()["nickName"] == "Babs"
    assert replaced.status_code == 200
    stored = scim.get(f"/Users/{user['id']}").get_json()
    assert stored["title"] == "Tour Guide"
    assert "nickName" not in stored


def test_delete_me_deletes_the_user(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = create_user(scim, "bjensen")
    act_as(monkeypatch, user["id"])

    response = scim.delete("/Me")

    assert response.status_code == 204
    assert response.headers["Location"].endswith(f"/Users/{user['id']}")
    assert_error(scim.get(f"/Users/{user['id']}"), 404)


def test_me_keeps_the_scope_checks(
    app: Flask, client: FlaskClient, scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = create_user(scim, "bjensen")
    reader = ScimClient(client, make_token(app, "lms", ["scim:read"]))
    act_as(monkeypatch, user["id"])

    assert reader.get("/Me").status_code == 200
    assert_error(reader.delete("/Me"), 403)


def test_me_bound_to_a_group_is_404(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = create_group(scim, "Ops")
    act_as(monkeypatch, group["id"])

    assert_error(scim.get("/Me"), 404)
