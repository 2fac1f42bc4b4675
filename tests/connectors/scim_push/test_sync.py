"""``scimserver connectors sync`` against a real downstream scimserver."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from scimserver import create_app
from scimserver.cli import main
from scimserver.db import get_database
from tests.conftest import ScimClient, make_token
from tests.connectors.scim_push.downstream import (
    TOKEN_ENV,
    Downstream,
    connectors_file,
)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
NO_GROUPS = (
    "  Groups: 0 created, 0 updated, 0 deleted, 0 unchanged, "
    "0 not managed by the hub\n  0 failed\n"
)


def hris(hub: Flask) -> ScimClient:
    return ScimClient(
        hub.test_client(), make_token(hub, "hris-sync", ["scim:read", "scim:write"])
    )


def create(scim: ScimClient, user_name: str, **attributes: Any) -> str:
    response = scim.post(
        "/Users", {"schemas": [USER], "userName": user_name, **attributes}
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def sync(hub: Flask, *options: str) -> Any:
    return hub.test_cli_runner().invoke(main, ["connectors", "sync", "lms", *options])


def by_user_name(downstream: Downstream) -> dict[str, dict[str, Any]]:
    return {user["userName"]: user for user in downstream.users()}


def test_first_sync_creates_every_user_the_connector_holds(
    hub: Flask, downstream: Downstream
) -> None:
    scim = hris(hub)
    for name in ("alice", "bob", "carol"):
        create(scim, name, title="Learner")

    result = sync(hub)

    assert result.exit_code == 0, result.output
    assert "Users: 3 created, 0 updated, 0 deactivated" in result.stdout
    assert sorted(by_user_name(downstream)) == ["alice", "bob", "carol"]


def test_sync_creates_missing_updates_drift_and_deactivates_leavers(
    hub: Flask, downstream: Downstream
) -> None:
    scim = hris(hub)
    alice = create(scim, "alice", title="Learner")
    create(scim, "carol", title="Learner")
    dave = create(scim, "dave", title="Learner")
    assert sync(hub).exit_code == 0
    scim.patch(
        f"/Users/{alice}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Mentor"}],
        },
    )
    create(scim, "bob", title="Learner")
    assert scim.delete(f"/Users/{dave}").status_code == 204
    downstream.post("/Users", {"schemas": [USER], "userName": "lms-admin"})
    before = downstream.users()

    dry = sync(hub, "--dry-run")
    untouched = downstream.users()
    real = sync(hub)
    again = sync(hub)

    users = (
        "  Users: 1 created, 1 updated, 1 deactivated, 1 unchanged, "
        "1 not managed by the hub\n"
    )
    assert dry.stdout == f"sync lms (dry run, nothing changed):\n{users}{NO_GROUPS}"
    assert untouched == before
    assert real.stdout == f"sync lms (applied):\n{users}{NO_GROUPS}"
    assert "Users: 0 created, 0 updated, 0 deactivated, 4 unchanged" in again.stdout
    held = by_user_name(downstream)
    assert held["alice"]["title"] == "Mentor"
    assert held["bob"]["title"] == "Learner"
    assert held["dave"]["active"] is False
    assert held["lms-admin"].get("active") is not False


def test_sync_repairs_a_user_changed_downstream(
    hub: Flask, downstream: Downstream
) -> None:
    scim = hris(hub)
    create(scim, "alice", title="Learner")
    assert sync(hub).exit_code == 0
    pushed = by_user_name(downstream)["alice"]
    downstream.http.put(
        f"{downstream.url}/Users/{pushed['id']}",
        json={"schemas": [USER], "userName": "alice", "active": False},
    ).raise_for_status()

    result = sync(hub)

    assert "Users: 0 created, 1 updated, 0 deactivated" in result.stdout
    repaired = by_user_name(downstream)["alice"]
    assert (repaired["title"], repaired["active"]) == ("Learner", True)


def test_sync_reconciles_groups_and_their_members(
    hub: Flask, downstream: Downstream
) -> None:
    scim = hris(hub)
    alice, bob = create(scim, "alice"), create(scim, "bob")
    team = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Tours", "members": [{"value": alice}]},
    ).get_json()
    gone = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Old"})
    assert sync(hub).exit_code == 0
    scim.put(
        f"/Groups/{team['id']}",
        {"schemas": [GROUP], "displayName": "Tours", "members": [{"value": bob}]},
    )
    assert scim.delete(f"/Groups/{gone.get_json()['id']}").status_code == 204

    result = sync(hub)

    assert "Groups: 0 created, 1 updated, 1 deleted, 0 unchanged" in result.stdout
    groups = downstream.get("/Groups")["Resources"]
    assert [g["displayName"] for g in groups] == ["Tours"]
    members = [m["value"] for m in groups[0]["members"]]
    assert members == [by_user_name(downstream)["bob"]["id"]]


def test_sync_of_an_unreachable_downstream_fails_cleanly(
    app: Flask,
    database_url: str,
    schema_dir: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "unused")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/scim/v2"
    path = connectors_file(tmp_path, closed)
    settings = {"database_url": database_url, "schema_dir": schema_dir}
    unreachable = create_app({**settings, "connectors_file": str(path)})
    create(hris(unreachable), "alice")

    result = sync(unreachable)
    get_database(unreachable).dispose()

    assert result.exit_code == 1
    assert "cannot read the downstream Users: connection failed" in result.output
    assert "Traceback" not in result.output
