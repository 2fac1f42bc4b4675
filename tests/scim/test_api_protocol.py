"""Authentication, error bodies and discovery endpoints (RFC 7644 §3.12, §4)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ScimClient, make_token
from tests.scim.test_api_users import assert_error, user_payload


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz"]
)
def test_missing_or_wrong_token_is_401(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}

    response = client.get("/scim/v2/Users", headers=headers)

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_scope_is_403(app: Flask, client: FlaskClient) -> None:
    reader = ScimClient(client, make_token(app, "lms", ["scim:read"]))

    assert reader.get("/Users").status_code == 200
    assert_error(reader.post("/Users", user_payload()), 403)


def test_unknown_route_is_a_scim_404(scim: ScimClient) -> None:
    assert_error(scim.get("/Nothing"), 404)


def test_wrong_method_is_a_scim_405(scim: ScimClient) -> None:
    assert_error(scim.request("DELETE", "/Users"), 405)


def test_wrong_content_type_is_415(scim: ScimClient) -> None:
    response = scim.request(
        "POST", "/Users", data="userName=x", content_type="text/plain"
    )

    assert_error(response, 415)


def test_malformed_json_is_invalid_syntax(scim: ScimClient) -> None:
    response = scim.request(
        "POST", "/Users", data="{not json", content_type="application/scim+json"
    )

    assert_error(response, 400, "invalidSyntax")


def test_oversized_body_is_413(scim: ScimClient) -> None:
    payload = user_payload(displayName="x" * 2_000_000)

    assert_error(scim.post("/Users", payload), 413)


def test_unexpected_failure_is_a_bare_500(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("scimserver.scim.search.search_resources", explode)

    response = scim.get("/Users")

    assert_error(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_service_provider_config_tells_what_is_supported(scim: ScimClient) -> None:
    body = scim.get("/ServiceProviderConfig").get_json()

    assert body["patch"]["supported"] is True
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["sort"]["supported"] is True
    assert body["etag"]["supported"] is True
    assert body["bulk"] == {
        "supported": True,
        "maxOperations": 1000,
        "maxPayloadSize": 1_048_576,
    }
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_schemas_lists_user_group_and_extensions(scim: ScimClient) -> None:
    body = scim.get("/Schemas").get_json()

    ids = {schema["id"] for schema in body["Resources"]}
    assert ids == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User",
        "urn:scimserver:params:scim:schemas:extension:consent:1.0:User",
    }
    assert body["totalResults"] == 5


def test_one_schema_by_urn(scim: ScimClient) -> None:
    body = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").get_json()

    user_name = next(a for a in body["attributes"] if a["name"] == "userName")
    assert user_name["uniqueness"] == "server"
    assert body["meta"]["resourceType"] == "Schema"


def test_resource_types(scim: ScimClient) -> None:
    body = scim.get("/ResourceTypes").get_json()
    user = scim.get("/ResourceTypes/User").get_json()

    assert {rt["name"] for rt in body["Resources"]} == {"User", "Group"}
    assert user["endpoint"] == "/Users"
    assert user["schemaExtensions"] == [
        {
            "schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "required": False,
        },
        {
            "schema": "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User",
            "required": False,
        },
        {
            "schema": "urn:scimserver:params:scim:schemas:extension:consent:1.0:User",
            "required": False,
        },
    ]
    assert_error(scim.get("/ResourceTypes/Nope"), 404)
