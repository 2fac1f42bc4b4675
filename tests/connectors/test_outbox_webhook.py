"""A User created over SCIM reaches a real webhook receiver, signed and in order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import Flask
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook

from tests.connectors.outbox_support import (
    HOOK_PATH,
    OLD_SECRET,
    OLD_SECRET_ENV,
    SECRET,
    SECRET_ENV,
    MakeHub,
    Receiver,
    cli,
    drain,
    hris,
    make_hub,
    new_user,
    outbox_rows,
    receiver,
    set_title,
    settle,
    webhook_toml,
)

__all__ = ["make_hub", "receiver"]

PSEUDONYMOUS_POLICY = """
[connectors.policy]
read = { classifications = ["public"], attributes = [
  "urn:ietf:params:scim:schemas:core:2.0:User:title" ] }
pseudonymous = { enabled = true, sector = "lms" }
"""


def test_created_user_reaches_the_webhook_signed_as_a_cloud_event(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)

    user_id = new_user(scim, "bjensen", title="Engineer")
    delivered = drain(app)

    assert delivered == 1
    assert receiver.refused == []
    [received] = receiver.received
    event = received.event
    [row] = outbox_rows(app)
    assert received.headers["Webhook-Id"] == event["id"] == str(row.id)
    assert received.headers["Content-Type"] == "application/cloudevents+json"
    assert event["specversion"] == "1.0"
    assert event["source"] == "http://scim.test"
    assert event["type"] == "org.scimserver.user.created"
    assert event["subject"] == event["data"]["id"] == user_id
    assert event["data"]["resource"]["userName"] == "bjensen"
    assert event["data"]["resource"]["title"] == "Engineer"
    assert row.status == "delivered" and row.attempts == 1
    occurred = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    assert abs(occurred - row.created) < timedelta(milliseconds=1)  # the change
    _assert_delivery_audited(app, row.id)


def _assert_delivery_audited(app: Flask, event_id: int) -> None:
    """The attempt is in the hash-chained audit log, naming no values."""
    exported = cli(app, "audit", "export").stdout
    entries = [json.loads(line) for line in exported.splitlines()]
    [entry] = [e for e in entries if e["action"] == "outbox.delivery"]
    assert entry["actor"] == "worker"
    assert entry["detail"]["event_id"] == event_id
    assert entry["detail"]["outcome"] == "delivered"
    assert "bjensen" not in exported.split('"outbox.delivery"')[1]
    assert "audit log intact" in cli(app, "audit", "verify").stdout


def test_payload_passes_the_release_policy_at_delivery_time(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    url = httpserver.url_for(HOOK_PATH)
    app = make_hub(webhook_toml(url, policy=PSEUDONYMOUS_POLICY))
    scim = hris(app)

    user_id = new_user(scim, "bjensen", title="Engineer")
    set_title(scim, user_id, "Manager")
    drain(app)

    created, updated = receiver.events()
    assert created["subject"].startswith("pid-") and user_id not in str(created)
    resource = created["data"]["resource"]
    assert resource["id"] == created["subject"]
    assert resource["title"] == "Manager"  # built when delivered: the newest value
    assert "userName" not in resource and "meta" in resource
    assert updated["data"]["detail"] == {"attributes": ["title"]}


def test_every_configured_secret_signs_so_receivers_can_rotate(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    toml = webhook_toml(httpserver.url_for(HOOK_PATH)).replace(
        f'secret_env = "{SECRET_ENV}"',
        f'secret_env = ["{SECRET_ENV}", "{OLD_SECRET_ENV}"]',
    )
    app = make_hub(toml)

    new_user(hris(app), "bjensen")
    drain(app)

    [received] = receiver.received
    body = _body_of(received.event, received.headers)
    assert len(received.headers["Webhook-Signature"].split(" ")) == 2
    for secret in (SECRET, OLD_SECRET):
        assert Webhook(secret).verify(body, received.headers) == received.event


def test_changes_of_one_user_arrive_in_order_even_after_a_failure(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    receiver.script = [(500, {}), (503, {})]
    first = new_user(scim, "first")
    second = new_user(scim, "second")
    for title in ("a", "b", "c"):
        set_title(scim, first, title)
        set_title(scim, second, title)
    scim.delete(f"/Users/{first}")

    settle(app)  # the two failures are retried once their backoff has passed

    seen = [(e["subject"], e["type"].rsplit(".", 1)[1]) for e in receiver.events()]
    for user in (first, second):
        mine = [kind for subject, kind in seen if subject == user]
        assert mine[:4] == ["created", "updated", "updated", "updated"]
    assert [kind for subject, kind in seen if subject == first][-1] == "deleted"
    ids = [int(e["id"]) for e in receiver.events() if e["subject"] == first]
    assert ids == sorted(ids)
    assert all(row.status == "delivered" for row in outbox_rows(app))


def test_deleted_user_event_carries_no_data(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    user_id = new_user(scim, "bjensen")
    assert scim.delete(f"/Users/{user_id}").status_code == 204

    drain(app)

    deleted = receiver.events()[-1]
    assert deleted["type"] == "org.scimserver.user.deleted"
    assert deleted["data"]["resource"] is None
    assert deleted["data"]["detail"] == {"deprovisioning": "hard"}


def test_group_membership_change_is_a_members_event(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    user_id = new_user(scim, "bjensen")
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "T",
        },
    ).get_json()
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
    }
    assert scim.patch(f"/Groups/{group['id']}", patch).status_code == 200

    drain(app)

    assert sorted(receiver.types()) == [  # order is kept per resource only
        "org.scimserver.group.created",
        "org.scimserver.group.members",
        "org.scimserver.user.created",
    ]
    assert receiver.types().index("org.scimserver.group.created") < (
        receiver.types().index("org.scimserver.group.members")
    )
    members = receiver.events()[-1]["data"]["resource"]["members"]
    assert [member["value"] for member in members] == [user_id]


def _body_of(event: dict[str, object], headers: dict[str, str]) -> str:
    """The exact body the hub sent: compact JSON in the order it was built."""
    return json.dumps(event, separators=(",", ":"))
