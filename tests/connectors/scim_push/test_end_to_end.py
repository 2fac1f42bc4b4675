"""HR changes travel through the outbox and the worker to a real SCIM server."""

from __future__ import annotations

from typing import Any

from flask import Flask

from scimserver.cli import main
from tests.connectors.scim_push.downstream import Downstream
from tests.connectors.scim_push.test_sync import GROUP, by_user_name, create, hris

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def drain(hub: Flask) -> Any:
    result = hub.test_cli_runner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result


def members_of(downstream: Downstream, display_name: str) -> set[str]:
    groups = downstream.get("/Groups")["Resources"]
    (group,) = [g for g in groups if g["displayName"] == display_name]
    return {member["value"] for member in group.get("members", [])}


def test_hire_move_and_leave_reach_the_downstream_server(
    hub: Flask, downstream: Downstream
) -> None:
    scim = hris(hub)
    alice = create(scim, "alice", title="Learner")
    bob = create(scim, "bob", title="Learner")
    team = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Tours", "members": [{"value": alice}]},
    ).get_json()
    drain(hub)
    ids = {name: user["id"] for name, user in by_user_name(downstream).items()}

    scim.patch(
        f"/Users/{alice}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "title", "value": "Mentor"}],
        },
    )
    scim.patch(
        f"/Groups/{team['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": bob}]},
                {"op": "remove", "path": f'members[value eq "{alice}"]'},
            ],
        },
    )
    drain(hub)
    moved = by_user_name(downstream)["alice"]
    team_members = members_of(downstream, "Tours")
    assert scim.delete(f"/Users/{alice}").status_code == 204
    drain(hub)

    held = by_user_name(downstream)
    assert (moved["title"], team_members) == ("Mentor", {ids["bob"]})
    assert sorted(held) == ["alice", "bob"]
    assert held["alice"]["active"] is False
    assert "0 created, 0 updated, 0 deactivated" in (
        hub.test_cli_runner().invoke(main, ["connectors", "sync", "lms"]).stdout
    )
