"""HR effective dates: held inactive on write, applied when a date arrives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from scimserver.cli import main
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.effective_dates import LIFECYCLE, hold_inactive
from scimserver.scim.lifecycle import LifecycleChanges, apply_lifecycle_in
from scimserver.scim.schema import ResourceType
from tests.conftest import ScimClient
from tests.scim.test_api_users import user_payload

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dated(start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    dates = {"startDate": stamp(start) if start else None}
    dates["endDate"] = stamp(end) if end else None
    return {k: v for k, v in dates.items() if v}


def hire(
    scim: ScimClient,
    user_name: str,
    start: datetime | None = None,
    end: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload = user_payload(user_name, **extra)
    payload["schemas"] = [USER, LIFECYCLE]
    payload[LIFECYCLE] = dated(start, end)
    response = scim.post("/Users", payload)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def apply(app: Flask, now: datetime) -> LifecycleChanges:
    return apply_lifecycle_in(app, app.extensions[REGISTRY_KEY], now)


def active(scim: ScimClient, user_id: str) -> Any:
    return scim.get(f"/Users/{user_id}").get_json().get("active")


@pytest.mark.parametrize(
    ("start", "end", "given", "expected"),
    [
        (None, None, True, True),
        (NOW + timedelta(days=1), None, True, False),
        (NOW, None, True, True),
        (NOW - timedelta(days=1), NOW + timedelta(days=1), True, True),
        (None, NOW, True, False),
        (None, NOW - timedelta(days=1), None, False),
        (None, NOW + timedelta(seconds=1), True, True),
        (NOW - timedelta(days=1), None, False, False),
    ],
)
def test_hold_inactive_outside_the_effective_dates(
    users: ResourceType,
    start: datetime | None,
    end: datetime | None,
    given: bool | None,
    expected: bool,
) -> None:
    document: dict[str, Any] = {"userName": "a", LIFECYCLE: dated(start, end)}
    if given is not None:
        document["active"] = given

    held = hold_inactive(users, document, NOW)

    assert held.get("active", True) is expected
    assert document.get("active") is given


def test_a_future_hire_is_stored_inactive_and_activated_on_the_start_date(
    app: Flask, scim: ScimClient
) -> None:
    start = datetime.now(UTC) + timedelta(days=30)
    user = hire(scim, "newhire", start=start)

    early = apply(app, start - timedelta(hours=1))
    arrived = apply(app, start)
    again = apply(app, start + timedelta(days=1))

    assert user["active"] is False
    assert early == LifecycleChanges()
    assert arrived == LifecycleChanges(activated=[user["id"]])
    assert again == LifecycleChanges()
    assert active(scim, user["id"]) is True


def test_a_termination_date_deactivates_once(app: Flask, scim: ScimClient) -> None:
    end = datetime.now(UTC) + timedelta(days=10)
    user = hire(scim, "leaver", end=end)
    unassigned = hire(scim, "quiet", end=end)
    scim.put(
        f"/Users/{unassigned['id']}",
        {"schemas": [USER, LIFECYCLE], "userName": "quiet", LIFECYCLE: dated(end=end)},
    )

    before = apply(app, end - timedelta(seconds=1))
    arrived = apply(app, end)
    again = apply(app, end + timedelta(days=1))

    assert before == LifecycleChanges()
    assert sorted(arrived.deactivated) == sorted([user["id"], unassigned["id"]])
    assert arrived.activated == []
    assert again == LifecycleChanges()
    assert active(scim, user["id"]) is False
    assert active(scim, unassigned["id"]) is False


def test_an_employment_ended_before_it_started_is_never_activated(
    app: Flask, scim: ScimClient
) -> None:
    start = datetime.now(UTC) + timedelta(days=5)
    user = hire(scim, "withdrawn", start=start, end=start - timedelta(days=1))

    changes = apply(app, start + timedelta(days=1))

    assert changes == LifecycleChanges()
    assert active(scim, user["id"]) is False


def test_a_user_deactivated_after_the_start_date_stays_inactive(
    app: Flask, scim: ScimClient
) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    user = hire(scim, "suspended", start=start)
    deactivate = {"op": "replace", "path": "active", "value": False}
    scim.patch(
        f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [deactivate]}
    )

    changes = apply(app, datetime.now(UTC) + timedelta(minutes=1))

    assert user["active"] is True
    assert changes == LifecycleChanges()
    assert active(scim, user["id"]) is False


def test_writes_before_the_start_date_keep_the_user_inactive(
    scim: ScimClient,
) -> None:
    start = datetime.now(UTC) + timedelta(days=30)
    user = hire(scim, "eager", start=start)
    activate = {"op": "replace", "path": "active", "value": True}

    patched = scim.patch(
        f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [activate]}
    )

    assert patched.get_json()["active"] is False


def test_effective_dates_are_filterable(scim: ScimClient) -> None:
    soon = datetime.now(UTC) + timedelta(days=3)
    hire(scim, "soon", start=soon)
    hire(scim, "later", start=soon + timedelta(days=30))

    expression = f'{LIFECYCLE}:startDate le "{stamp(soon + timedelta(days=1))}"'
    listed = scim.get(f"/Users?filter={quote(expression)}").get_json()

    assert [u["userName"] for u in listed["Resources"]] == ["soon"]


def test_lifecycle_apply_command_takes_an_explicit_now(
    app: Flask, scim: ScimClient
) -> None:
    start = datetime.now(UTC) + timedelta(days=30)
    user = hire(scim, "cli", start=start)
    runner = app.test_cli_runner()

    result = runner.invoke(main, ["lifecycle", "apply", "--now", stamp(start)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"activated {user['id']}"]
    assert "1 activated, 0 deactivated" in result.stderr


def test_lifecycle_apply_refuses_a_malformed_now(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        main, ["lifecycle", "apply", "--now", "next monday"]
    )

    assert result.exit_code != 0
    assert "not a dateTime" in result.output
