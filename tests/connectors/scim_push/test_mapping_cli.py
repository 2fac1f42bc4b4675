"""``scimserver connectors mapping ...``: versions, preview, activation, roll back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from scimserver.audit.models import AuditEntry
from scimserver.cli import main
from scimserver.db import get_database
from scimserver.policy.pseudonyms import derive_key, pseudonym
from tests.connectors.scim_push.downstream import Downstream
from tests.connectors.scim_push.test_sync import by_user_name, create, hris

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
V1 = {
    "User": [
        {"to": "userName", "from": "userName", "transform": "upper"},
        {"to": "externalId", "transform": "pseudonym"},
        {
            "to": "displayName",
            "from": ["name.givenName", "name.familyName"],
            "transform": "join",
        },
        {"to": f"{ENTERPRISE}:division", "transform": "constant", "value": "L&D"},
    ]
}
V2 = {"User": [{"to": "userName", "from": "userName", "transform": "lower"}]}


def run(hub: Flask, *arguments: str, stdin: str | None = None) -> Any:
    runner = hub.test_cli_runner()
    return runner.invoke(main, ["connectors", "mapping", *arguments], input=stdin)


def store(hub: Flask, tmp_path: Path, document: Any, *options: str) -> Any:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(document))
    return run(hub, "set", "lms", str(path), *options)


def audit_actions(hub: Flask) -> list[str]:
    with get_database(hub).sessions() as session:
        query = select(AuditEntry.action).order_by(AuditEntry.seq)
        return [a for a in session.scalars(query) if a.startswith("connector.")]


def test_preview_prints_the_exact_document_and_sends_nothing(
    hub: Flask, downstream: Downstream, tmp_path: Path
) -> None:
    user_id = create(
        hris(hub), "bjensen", name={"givenName": "Barbara", "familyName": "Jensen"}
    )
    assert store(hub, tmp_path, V1).exit_code == 0

    result = run(hub, "preview", "lms", user_id, "--version", "1")

    assert result.exit_code == 0, result.output
    secret = derive_key(hub.config["SETTINGS"].secret_key)
    assert json.loads(result.stdout) == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "BJENSEN",
        "externalId": pseudonym(secret, "lms", user_id),
        "displayName": "Barbara Jensen",
        ENTERPRISE: {"division": "L&D"},
    }
    assert downstream.users() == []
    assert "connector.mapping.preview" in audit_actions(hub)


def test_without_a_mapping_the_preview_is_the_released_user(
    hub: Flask, downstream: Downstream
) -> None:
    user_id = create(hris(hub), "bjensen", title="Guide")

    result = run(hub, "preview", "lms", user_id)

    document = json.loads(result.stdout)
    assert (document["userName"], document["title"]) == ("bjensen", "Guide")
    assert "id" not in document and "meta" not in document


def test_activate_and_roll_back_with_history_and_audit(
    hub: Flask, downstream: Downstream, tmp_path: Path
) -> None:
    store(hub, tmp_path, V1)
    store(hub, tmp_path, V2, "--activate")

    shown_v2 = run(hub, "show", "lms")
    rolled_back = run(hub, "activate", "lms", "1")
    shown_v1 = run(hub, "show", "lms")
    listed = run(hub, "history", "lms")

    assert json.loads(shown_v2.stdout) == V2
    assert rolled_back.exit_code == 0
    assert json.loads(shown_v1.stdout) == V1
    lines = listed.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["v2", "stored"], ["v1", "active"]]
    assert audit_actions(hub) == [
        "connector.mapping.store",
        "connector.mapping.store",
        "connector.mapping.activate",
        "connector.mapping.activate",
    ]


def test_activation_with_resync_pushes_the_new_mapping(
    hub: Flask, downstream: Downstream, tmp_path: Path
) -> None:
    create(hris(hub), "bjensen", name={"givenName": "Barbara", "familyName": "Jensen"})
    assert (
        hub.test_cli_runner().invoke(main, ["connectors", "sync", "lms"]).exit_code == 0
    )
    store(hub, tmp_path, V1)

    result = run(hub, "activate", "lms", "1", "--resync")

    assert result.exit_code == 0, result.output
    assert "0 created, 1 updated" in result.stdout
    pushed = by_user_name(downstream)["BJENSEN"]
    assert pushed["displayName"] == "Barbara Jensen"
    assert pushed[ENTERPRISE]["division"] == "L&D"


def test_an_invalid_mapping_is_refused_and_nothing_is_stored(
    hub: Flask, downstream: Downstream, tmp_path: Path
) -> None:
    bad = {"User": [{"to": "id", "from": "userName"}, {"to": "title"}]}

    result = store(hub, tmp_path, bad)
    listed = run(hub, "history", "lms")

    assert result.exit_code == 1
    assert "User[0]: 'id' is assigned by the downstream server" in result.output
    assert "User[1]: transform 'copy' needs 'from'" in result.output
    assert "no mapping versions" in listed.output
    assert audit_actions(hub) == []


def test_mapping_read_from_stdin(hub: Flask, downstream: Downstream) -> None:
    result = run(hub, "set", "lms", "-", stdin=json.dumps(V2))

    assert result.exit_code == 0, result.output
    assert "stored mapping v1" in result.output


def test_unknown_connector_version_and_user_are_clear_errors(
    hub: Flask, downstream: Downstream
) -> None:
    no_connector = run(hub, "show", "eap")
    no_version = run(hub, "activate", "lms", "7")
    no_user = run(hub, "preview", "lms", "2819c223-7f76-453a-919d-413861904646")
    not_json = run(hub, "set", "lms", "-", stdin="{")

    assert "no connector named 'eap' is configured" in no_connector.output
    assert "connector 'lms' has no mapping version 7" in no_version.output
    assert "holds no User" in no_user.output
    assert "the mapping is not JSON" in not_json.output
    results = (no_connector, no_version, no_user, not_json)
    assert all(r.exit_code == 1 and "Traceback" not in r.output for r in results)
