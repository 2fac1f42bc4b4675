"""Several workers at once: no event twice, per-User order kept, dead workers' rows
taken over; and the worker thread inside the server process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from scimserver.connectors.claims import Result, claim_due, record_result
from scimserver.connectors.models import OutboxEvent
from scimserver.connectors.worker import (
    CONCURRENCY,
    DeliveryWorker,
    start_embedded_workers,
)
from scimserver.db import get_database
from tests.connectors.outbox_support import (
    HOOK_PATH,
    MakeHub,
    Receiver,
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


def test_two_workers_never_deliver_an_event_twice(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    users = [new_user(scim, f"user{n}") for n in range(12)]
    for user in users:
        set_title(scim, user, "one")
        set_title(scim, user, "two")
    receiver.delay = 0.005
    receiver.script = [(500, {})] * 5
    workers = [DeliveryWorker(app, batch_size=4) for _ in range(2)]

    _run_until_settled(app, workers)

    assert receiver.refused == []
    ids = [r.headers["Webhook-Id"] for r in receiver.received]
    assert len(ids) == 36 and Counter(ids).most_common(1)[0][1] == 1
    for user in users:
        mine = [int(e["id"]) for e in receiver.events() if e["subject"] == user]
        assert mine == sorted(mine) and len(mine) == 3


def _run_until_settled(app: Flask, workers: list[DeliveryWorker]) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(target=w.run_forever, args=(stop, 0.01)) for w in workers
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    try:
        while any(r.status != "delivered" for r in outbox_rows(app)):
            assert time.monotonic() < deadline, "the workers did not finish"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def test_a_killed_workers_claim_is_taken_over_after_its_lease(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    new_user(hris(app), "bjensen")
    database = get_database(app)
    start = datetime.now(UTC)
    with database.sessions() as session:  # a worker claims, then dies silently
        [lost] = claim_due(session, start, 10, timedelta(seconds=1))
    with database.sessions() as session:
        assert claim_due(session, start, 10, timedelta(seconds=1)) == []
        [taken] = claim_due(session, start + timedelta(seconds=2), 10, timedelta(0))

    DeliveryWorker(app).deliver(taken)
    with app.app_context(), database.sessions() as session:
        late = Result("delivered", "delivered", None, 204, 5, None)
        recorded = record_result(session, lost, late, datetime.now(UTC))
        session.commit()

    assert (lost.attempt, taken.attempt) == (1, 2)
    assert recorded is False  # the first worker's late answer changes nothing
    [row] = outbox_rows(app)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert len(receiver.received) == 1


def test_the_server_process_delivers_with_its_embedded_worker(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)), embedded_workers=1)
    workers = start_embedded_workers(app, poll_seconds=0.02)
    assert workers is not None
    try:
        new_user(hris(app), "bjensen")
        deadline = time.monotonic() + 10
        while not receiver.received:
            assert time.monotonic() < deadline, "nothing was delivered"
            time.sleep(0.02)
    finally:
        workers.stop()

    assert receiver.types() == ["org.scimserver.user.created"]


def test_on_postgresql_a_claim_skips_rows_another_worker_holds(
    make_hub: MakeHub, httpserver: HTTPServer, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks; its claim is one atomic UPDATE")
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    first, second = new_user(scim, "first"), new_user(scim, "second")
    database = get_database(app)
    now = datetime.now(UTC)

    with database.sessions() as holder, database.sessions() as other:
        held = holder.execute(  # another worker is in the middle of its claim
            select(OutboxEvent.id)
            .where(OutboxEvent.resource_id == first)
            .with_for_update()
        ).scalar_one()
        started = time.monotonic()
        claims = claim_due(other, now, 10, timedelta(minutes=5))
        waited = time.monotonic() - started
        holder.rollback()

    assert [claim.event_id for claim in claims] != [held]
    assert len(claims) == 1 and waited < 1.0
    [claimed] = [row for row in outbox_rows(app) if row.status == "delivering"]
    assert claimed.resource_id == second


def test_a_worker_killed_mid_batch_loses_nothing(
    make_hub: MakeHub,
    receiver: Receiver,
    httpserver: HTTPServer,
    tmp_path: Path,
    database_url: str,
    schema_dir: str,
) -> None:
    toml = webhook_toml(httpserver.url_for(HOOK_PATH))
    app = make_hub(toml, outbox_lease_seconds=2)
    scim = hris(app)
    for n in range(8):
        new_user(scim, f"user{n}")
    receiver.delay = 0.2
    environment = {
        **os.environ,
        "SCIMSERVER_DATABASE_URL": database_url,
        "SCIMSERVER_SCHEMA_DIR": schema_dir,
        "SCIMSERVER_CONNECTORS_FILE": str(tmp_path / "connectors-0.toml"),
        "SCIMSERVER_OUTBOX_LEASE_SECONDS": "2",
    }
    command = [sys.executable, "-c", "from scimserver.cli import main; main()"]
    heartbeat = tmp_path / "heartbeat"
    with (tmp_path / "worker.log").open("w") as log:
        worker = subprocess.Popen(
            [*command, "worker", "--poll", "0.05", "--heartbeat", str(heartbeat)],
            env=environment,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while len(receiver.received) < 3:
                assert time.monotonic() < deadline, "the worker delivered nothing"
                time.sleep(0.02)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)

    time.sleep(2.1)  # the leases of the killed worker's claims run out
    settle(app)

    ids = [r.headers["Webhook-Id"] for r in receiver.received]
    assert heartbeat.exists()
    assert set(ids) == {str(row.id) for row in outbox_rows(app)}
    # Only the requests in flight at the kill repeat (same id: receivers drop them).
    assert len(ids) - len(set(ids)) <= CONCURRENCY
    assert {row.status for row in outbox_rows(app)} == {"delivered"}
