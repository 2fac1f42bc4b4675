"""The value index follows every write: PUT and PATCH rewrite only what changed.

After each write the stored rows of a resource must equal the rows its document
indexes to, and filters on an old value must stop matching.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete, select, update

from scimserver.cli import main
from scimserver.db import get_database
from scimserver.models import Resource, ResourceValue
from scimserver.scim.schema import ResourceType
from scimserver.scim.value_index import index_values
from tests.conftest import ScimClient
from tests.scim.test_api_users import create_user

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ROW_FIELDS = (
    "attribute",
    "sub_attribute",
    "item",
    "text_value",
    "number_value",
    "bool_value",
    "time_value",
)


def _key(row: Any) -> tuple[Any, ...]:
    return tuple(str(row[field]) for field in ROW_FIELDS)


def rows_match_document(app: Flask, users: ResourceType, user_id: str) -> None:
    """The stored value rows are exactly those the stored document indexes to."""
    with get_database(app).sessions() as session:
        document = session.get_one(Resource, user_id).attributes
        stored = session.scalars(
            select(ResourceValue).where(ResourceValue.resource_id == user_id)
        ).all()
        found = sorted(
            _key({field: getattr(row, field) for field in ROW_FIELDS}) for row in stored
        )
    expected = sorted(_key(row) for row in index_values(users, document))
    assert found == expected


def patch(scim: ScimClient, user_id: str, *operations: dict[str, Any]) -> None:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    response = scim.patch(f"/Users/{user_id}", body)
    assert response.status_code == 200, response.get_data(as_text=True)


def matches(scim: ScimClient, condition: str) -> int:
    response = scim.get(f"/Users?filter={condition}")
    assert response.status_code == 200, response.get_data(as_text=True)
    total: int = response.get_json()["totalResults"]
    return total


def test_rows_follow_patches_and_puts(
    app: Flask, scim: ScimClient, users: ResourceType
) -> None:
    user = create_user(
        scim,
        "bjensen",
        title="Tour Guide",
        emails=[{"value": "old@example.com", "type": "work"}],
    )
    user_id = user["id"]
    rows_match_document(app, users, user_id)

    patch(scim, user_id, {"op": "replace", "path": "active", "value": False})
    rows_match_document(app, users, user_id)
    assert matches(scim, "active eq false") == 1
    assert matches(scim, 'emails.value eq "old@example.com"') == 1

    patch(
        scim,
        user_id,
        {"op": "replace", "path": "emails", "value": [{"value": "new@example.com"}]},
        {"op": "remove", "path": "title"},
    )
    rows_match_document(app, users, user_id)
    assert matches(scim, 'emails.value eq "old@example.com"') == 0
    assert matches(scim, 'emails.value eq "new@example.com"') == 1
    assert matches(scim, "title pr") == 0
    assert matches(scim, "active eq false") == 1

    replaced = scim.put(
        f"/Users/{user_id}",
        {
            "schemas": user["schemas"],
            "userName": "BJensen",
            "nickName": "Babs",
            "active": True,
        },
    )
    assert replaced.status_code == 200, replaced.get_data(as_text=True)
    rows_match_document(app, users, user_id)
    assert matches(scim, 'emails.value eq "new@example.com"') == 0
    assert matches(scim, 'nickName eq "Babs"') == 1
    assert matches(scim, "active eq true") == 1


def test_renaming_to_a_taken_user_name_is_refused(scim: ScimClient) -> None:
    create_user(scim, "taken")
    other = create_user(scim, "other")["id"]

    case_only = {"op": "replace", "path": "userName", "value": "OTHER"}
    patch(scim, other, case_only)
    response = scim.patch(
        f"/Users/{other}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "userName", "value": "Taken"}],
        },
    )

    assert response.status_code == 409
    assert response.get_json()["scimType"] == "uniqueness"
    assert "Taken" in response.get_json()["detail"]
    assert scim.get(f"/Users/{other}").get_json()["userName"] == "OTHER"


def test_creating_a_taken_user_name_names_it(scim: ScimClient) -> None:
    create_user(scim, "taken")

    response = scim.post(
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "TAKEN",
        },
    )

    assert response.status_code == 409
    assert response.get_json()["scimType"] == "uniqueness"
    assert response.get_json()["detail"] == "userName 'TAKEN' is already taken."
    assert matches(scim, 'userName eq "taken"') == 1


def test_reindex_rebuilds_rows_lost_or_stale(
    app: Flask, scim: ScimClient, users: ResourceType
) -> None:
    ids = [create_user(scim, f"user{n}", title="Guide")["id"] for n in range(5)]
    with get_database(app).sessions() as session:
        session.execute(
            delete(ResourceValue).where(ResourceValue.resource_id == ids[0])
        )
        session.execute(
            update(ResourceValue)
            .where(ResourceValue.resource_id == ids[1])
            .values(text_value="stale")
        )
        session.commit()
    assert matches(scim, 'title eq "Guide"') == 3

    result = app.test_cli_runner().invoke(main, ["db", "reindex", "--batch", "2"])

    assert result.exit_code == 0, result.output
    assert "5 resources reindexed" in result.output
    for user_id in ids:
        rows_match_document(app, users, user_id)
    assert matches(scim, 'title eq "Guide"') == 5
