"""A new extension needs a schema file and a line in a resource type, nothing else."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver import create_app
from scimserver.db import get_database
from tests.conftest import BASE_URL, ScimClient, make_token

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
WELLBEING = "urn:example:scim:schemas:extension:wellbeing:1.0:User"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"

EXTENSION = {
    "id": WELLBEING,
    "name": "WellbeingUser",
    "description": "A made-up extension for this test.",
    "attributes": [
        {
            "name": "programme",
            "type": "string",
            "multiValued": False,
            "description": "Programme the employee joined.",
            "required": False,
            "caseExact": False,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        },
        {
            "name": "sessions",
            "type": "integer",
            "multiValued": False,
            "description": "Sessions attended.",
            "required": False,
            "caseExact": False,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        },
    ],
}


@pytest.fixture
def extended_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    (folder / "Wellbeing.json").write_text(json.dumps(EXTENSION))
    user_type_file = folder / "resource_types" / "User.json"
    user_type = json.loads(user_type_file.read_text())
    user_type["schemaExtensions"].append({"schema": WELLBEING, "required": False})
    user_type_file.write_text(json.dumps(user_type))

    application = create_app(
        {"database_url": database_url, "base_url": BASE_URL, "schema_dir": str(folder)}
    )
    yield application
    database = get_database(application)
    with database.engine.begin() as connection:
        for table in ("client_tokens", "clients", "scim_resources"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
    database.dispose()


def test_extension_is_served_stored_and_filtered(extended_app: Flask) -> None:
    client: FlaskClient = extended_app.test_client()
    scim = ScimClient(
        client, make_token(extended_app, "hris", ["scim:read", "scim:write"])
    )
    payload = {
        "schemas": [USER, WELLBEING],
        "userName": "ada",
        WELLBEING: {"programme": "Resilience", "sessions": 3},
    }

    created = scim.post("/Users", payload)
    found = scim.get("/Users?filter=" + quote(f"{WELLBEING}:sessions ge 2"))
    refused = scim.post(
        "/Users", {**payload, "userName": "bob", WELLBEING: {"sessions": "three"}}
    )

    assert created.status_code == 201, created.get_json()
    assert created.get_json()[WELLBEING] == {"programme": "Resilience", "sessions": 3}
    assert [r["userName"] for r in found.get_json()["Resources"]] == ["ada"]
    assert refused.status_code == 400
    assert scim.get(f"/Schemas/{WELLBEING}").status_code == 200
