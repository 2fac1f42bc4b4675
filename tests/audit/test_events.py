"""Writes, consent changes, client changes and refused tokens reach the audit log."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from scimserver.cli import main
from tests.conftest import ScimClient
from tests.scim.test_api_users import PATCH_OP, create_user


def exported(app: Flask) -> list[dict[str, Any]]:
    result = app.test_cli_runner().invoke(main, ["audit", "export"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_scim_writes_are_audited_with_attribute_names_only(
    app: Flask, scim: ScimClient
) -> None:
    user = create_user(scim, "ada", nickName="Countess")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": "Analyst"}],
    }
    scim.patch(f"/Users/{user['id']}", patch)
    scim.delete(f"/Users/{user['id']}")

    entries = exported(app)

    writes = [e for e in entries if e["resource_id"] == user["id"]]
    assert [e["action"] for e in writes] == ["user.create", "user.patch", "user.delete"]
    assert all(e["actor"] == "hris" for e in writes)
    assert "nickname" in {a.rsplit(":", 1)[-1].lower() for a in writes[0]["attributes"]}
    assert [a.rsplit(":", 1)[-1] for a in writes[1]["attributes"]] == ["title"]
    text = json.dumps(entries)
    assert "Countess" not in text and "Analyst" not in text


def test_a_refused_token_is_audited(app: Flask, scim: ScimClient) -> None:
    ScimClient(scim.client, "scs_wrong").get("/Users")

    failures = [e for e in exported(app) if e["action"] == "auth.failure"]

    assert len(failures) == 1
    assert failures[0]["detail"] == {"method": "GET", "path": "/scim/v2/Users"}
    assert "scs_wrong" not in json.dumps(failures)
