"""Retries with backoff, Retry-After, dead letters and their replay, via the CLI."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

from pytest_httpserver import HTTPServer
from sqlalchemy import update

from scimserver.cli import main
from scimserver.connectors.config import EXTENSION_KEY
from scimserver.connectors.models import OutboxEvent
from scimserver.db import get_database
from tests.connectors.outbox_support import (
    HOOK_PATH,
    MakeHub,
    Receiver,
    attempts_of,
    cli,
    drain,
    hris,
    json_of,
    make_hub,
    new_user,
    outbox_rows,
    receiver,
    settle,
    webhook_toml,
)

__all__ = ["make_hub", "receiver"]


def test_failing_receiver_gets_retries_until_it_succeeds(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    receiver.script = [(500, {}), (502, {})]
    new_user(hris(app), "bjensen")

    first = cli(app, "worker", "--once")
    settle(app)

    [row] = outbox_rows(app)
    tries = attempts_of(app, row.id)
    assert [(t.status, t.http_status) for t in tries] == [
        ("retry", 500),
        ("retry", 502),
        ("delivered", 204),
    ]
    assert all(t.latency_ms >= 0 for t in tries) and tries[0].error == (
        "HTTP 500 INTERNAL SERVER ERROR"
    )
    assert "deliveries attempted" in first.stderr
    assert row.status == "delivered" and len(receiver.received) == 1
    assert len({r.headers["Webhook-Id"] for r in receiver.received}) == 1


def test_retry_after_on_429_is_honoured(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    receiver.script = [(429, {"Retry-After": "2"})]
    new_user(hris(app), "bjensen")
    before = datetime.now(UTC)

    drain(app)

    [row] = outbox_rows(app)
    assert row.status == "pending"
    assert row.next_attempt_at >= before + timedelta(seconds=1.9)
    assert drain(app) == 0  # not due yet, although the backoff is 0.05 s at most
    time.sleep(2.1)
    assert drain(app) == 1
    assert outbox_rows(app)[0].status == "delivered"


def test_events_go_dead_after_max_attempts_and_replay_delivers_them(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    receiver.script = [(503, {})] * 4
    new_user(hris(app), "bjensen")

    settle(app)
    listed = cli(app, "outbox", "list", "--status", "dead").stdout
    replayed = cli(app, "outbox", "replay", "--connector", "lms")
    settle(app)

    [row] = outbox_rows(app)
    assert f"{row.id:>8}  lms" in listed and "dead" in listed
    assert "1 events queued again" in replayed.stderr
    assert row.status == "delivered"
    assert [t.status for t in attempts_of(app, row.id)] == ["retry"] * 4 + ["delivered"]


def test_a_refusing_receiver_sends_the_event_to_the_dead_letters_at_once(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    receiver.script = [(400, {})]
    new_user(hris(app), "bjensen")

    drain(app)

    [row] = outbox_rows(app)
    shown = json_of(cli(app, "outbox", "show", str(row.id)))
    assert shown["status"] == "dead" and shown["attempts"] == 1
    assert shown["deliveries"][0]["outcome"] == "rejected"
    assert shown["deliveries"][0]["httpStatus"] == 400


def test_unreachable_and_hanging_receivers_are_retried(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    toml = webhook_toml(closed, name="down") + webhook_toml(
        httpserver.url_for(HOOK_PATH), name="slow"
    ).replace("timeout = 5", "timeout = 0.3")
    app = make_hub(toml.replace("max_attempts = 4", "max_attempts = 1"))
    receiver.delay = 1.0
    new_user(hris(app), "bjensen")

    settle(app)

    errors = {row.connector: attempts_of(app, row.id)[0] for row in outbox_rows(app)}
    assert errors["down"].error == "connection refused or unreachable"
    assert errors["slow"].error == "timed out"
    assert {row.status for row in outbox_rows(app)} == {"dead"}


def test_purge_removes_old_delivered_events_only(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    new_user(scim, "old")
    drain(app)
    with get_database(app).sessions() as session:
        session.execute(
            update(OutboxEvent).values(finished=datetime.now(UTC) - timedelta(days=40))
        )
        session.commit()
    new_user(scim, "recent")
    drain(app)
    new_user(scim, "waiting")

    result = cli(app, "outbox", "purge", "--older-than", "30")

    assert "1 events purged" in result.stderr
    assert [row.status for row in outbox_rows(app)] == ["delivered", "pending"]


def test_replaying_a_pending_event_is_refused(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    new_user(hris(app), "bjensen")
    [row] = outbox_rows(app)

    result = app.test_cli_runner().invoke(main, ["outbox", "replay", str(row.id)])

    assert result.exit_code == 1
    assert "is pending; only dead, delivered, cancelled" in result.output


class _BrokenConnector:
    """A connector with a bug: it raises instead of returning an outcome.

    A stand-in on purpose: no real connector raises on request, so the worker's
    guard against one can only be tested with a broken one.
    """

    name = "lms"

    def deliver(self, event: object) -> object:
        raise KeyError("a bug, with a value that must not be stored: s3cr3t")


def test_a_connector_that_raises_is_retried_then_dead_lettered(
    make_hub: MakeHub, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    app.extensions[EXTENSION_KEY].senders["lms"] = _BrokenConnector()
    new_user(hris(app), "bjensen")

    settle(app)

    [row] = outbox_rows(app)
    tries = attempts_of(app, row.id)
    assert row.status == "dead" and len(tries) == 4
    assert {t.error for t in tries} == {"internal error (KeyError)"}
