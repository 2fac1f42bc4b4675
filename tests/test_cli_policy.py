"""``scimserver clients policy set|show|history|template`` and ``create --policy``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from scimserver.audit.models import AuditEntry
from scimserver.cli import main
from scimserver.db import get_database
from scimserver.policy.models import Pseudonym
from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
LMS: dict[str, Any] = {
    "description": "LMS: names and work email",
    "read": {"classifications": ["public"], "attributes": [f"{USER}:emails"]},
}


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(main, list(args))


def write_policy(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_set_stores_versions_and_show_prints_the_one_in_force(
    app: Flask, tmp_path: Path
) -> None:
    invoke(app, "clients", "create", "lms", "--scope", "scim:read")

    first = invoke(app, "clients", "policy", "set", "lms", "--template", "reader")
    second = invoke(
        app, "clients", "policy", "set", "lms", "--file", write_policy(tmp_path, LMS)
    )
    shown = invoke(app, "clients", "policy", "show", "lms")
    history = invoke(app, "clients", "policy", "history", "lms")

    assert first.exit_code == 0 and "policy version 1" in first.stdout
    assert second.exit_code == 0 and "policy version 2" in second.stdout
    assert json.loads(shown.stdout)["read"]["attributes"] == [f"{USER}:emails"]
    lines = history.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["1", "2"]
    assert lines[1].endswith("(in force)") and "in force" not in lines[0]


def test_an_invalid_policy_lists_every_problem_and_stores_nothing(
    app: Flask, tmp_path: Path
) -> None:
    invoke(app, "clients", "create", "lms", "--scope", "scim:read")
    wholesale = {"read": {"classifications": ["sensitive"]}}
    broken = {
        "read": {"attributes": [f"{USER}:nope"]},
        "write": {"attributes": [f"{USER}:id", f"{USER}:groups"]},
    }

    refused = [
        invoke(
            app, "clients", "policy", "set", "lms", "--file", write_policy(tmp_path, d)
        )
        for d in (wholesale, broken)
    ]
    shown = invoke(app, "clients", "policy", "show", "lms")

    assert [result.exit_code for result in refused] == [1, 1]
    assert "read.classifications" in refused[0].output
    assert "nope" in refused[1].output
    assert refused[1].output.count("readOnly") == 2
    assert "default policy applies" in shown.output


def test_policy_changes_are_audited_with_their_digest(app: Flask) -> None:
    invoke(app, "clients", "create", "lms", "--scope", "scim:read")
    invoke(app, "clients", "policy", "set", "lms", "--template", "reader")

    with get_database(app).sessions() as session:
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "client.policy")
        )
    assert entry.actor == "cli" and entry.detail["version"] == 1
    assert entry.detail["digest"].startswith("sha256:")


def test_create_takes_a_policy_template(app: Flask, scim: ScimClient) -> None:
    created = invoke(
        app,
        "clients",
        "create",
        "hr-system",
        "--scope",
        "scim:read",
        "--scope",
        "scim:write",
        "--policy-template",
        "source-of-record",
    )
    hris = ScimClient(scim.client, created.stdout.strip())

    response = hris.post("/Users", {"schemas": [USER], "userName": "ada"})

    assert response.status_code == 201, response.get_json()


def test_a_pseudonymous_policy_registers_every_users_pseudonym(
    app: Flask, scim: ScimClient, tmp_path: Path
) -> None:
    for name in ("ada", "bob"):
        scim.post("/Users", {"schemas": [USER], "userName": name})
    invoke(app, "clients", "create", "eap", "--scope", "scim:read")
    document = {**LMS, "pseudonymous": {"enabled": True, "sector": "eap"}}

    invoke(
        app,
        "clients",
        "policy",
        "set",
        "eap",
        "--file",
        write_policy(tmp_path, document),
    )

    with get_database(app).sessions() as session:
        sectors = session.scalars(select(Pseudonym.sector)).all()
    assert sectors == ["eap", "eap"]


def test_template_prints_a_valid_starting_point(app: Flask, tmp_path: Path) -> None:
    printed = invoke(app, "clients", "policy", "template", "source-of-record")
    invoke(app, "clients", "create", "hr", "--scope", "scim:read")
    path = tmp_path / "hr.json"
    path.write_text(printed.stdout)

    stored = invoke(app, "clients", "policy", "set", "hr", "--file", str(path))

    assert stored.exit_code == 0, stored.output
    assert f"{USER}:addresses" in json.loads(printed.stdout)["read"]["attributes"]
