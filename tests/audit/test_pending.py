"""Audit entries join the chain when their transaction commits, and only then."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from scimserver.audit import log as audit_log
from scimserver.db import get_database
from tests.audit.test_events import exported
from tests.conftest import ScimClient
from tests.scim.test_query_counts import count_statements

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def record(app: Flask, session: Session, resource_id: str) -> None:
    audit_log.record(
        session,
        app.config["SETTINGS"].secret_key,
        actor="hris",
        action="user.update",
        resource_type="User",
        resource_id=resource_id,
        attributes=["title"],
    )


def chained_ids(app: Flask) -> list[str]:
    entries = exported(app)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    with get_database(app).sessions() as session:
        assert audit_log.verify(session, app.config["SETTINGS"].secret_key).ok
    return [e["resource_id"] for e in entries]


def test_recording_runs_no_sql_until_the_commit(app: Flask) -> None:
    with get_database(app).sessions() as session:
        with count_statements(app) as before_commit:
            record(app, session, "a")
            record(app, session, "b")
        with count_statements(app) as at_commit:
            session.commit()

    assert before_commit == []
    assert any("audit_entries" in statement for statement in at_commit)
    assert chained_ids(app) == ["a", "b"]


def test_an_entry_of_a_rolled_back_savepoint_is_dropped(app: Flask) -> None:
    with get_database(app).sessions() as session:
        record(app, session, "kept")
        with pytest.raises(RuntimeError), session.begin_nested():
            record(app, session, "undone")
            raise RuntimeError("the operation failed")
        with session.begin_nested():
            record(app, session, "released")
        session.commit()

    assert chained_ids(app) == ["kept", "released"]


def test_a_rolled_back_transaction_leaves_no_entry(app: Flask) -> None:
    with get_database(app).sessions() as session:
        record(app, session, "undone")
        session.rollback()
        record(app, session, "kept")
        session.commit()
    with get_database(app).sessions() as session:
        record(app, session, "never committed")

    assert chained_ids(app) == ["kept"]


def test_an_open_transaction_does_not_hold_the_chain(
    app: Flask, database_url: str
) -> None:
    database = get_database(app)
    with database.sessions() as waiting, database.sessions() as other:
        record(app, waiting, "open")
        waiting.flush()
        if database_url.startswith("postgresql"):
            # Before, this commit waited for the open transaction's head lock.
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
        record(app, other, "committed first")
        other.commit()
        waiting.commit()

    assert chained_ids(app) == ["committed first", "open"]


def test_bulk_audits_the_operations_that_stayed(app: Flask, scim: ScimClient) -> None:
    def create(bulk_id: str, user_name: str) -> dict[str, Any]:
        data = {"schemas": [USER], "userName": user_name}
        return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}

    body = {
        "schemas": [BULK_REQUEST],
        "Operations": [create("a", "ada"), create("b", "ada"), create("c", "grace")],
    }
    response = scim.post("/Bulk", body)

    statuses = [op["status"] for op in response.get_json()["Operations"]]
    assert statuses == ["201", "409", "201"]
    created = [e for e in exported(app) if e["action"] == "user.create"]
    assert len(created) == 2
    assert len(chained_ids(app)) == len(exported(app))


def test_concurrent_commits_never_share_a_number(app: Flask) -> None:
    """Entries alone in their transaction, from many threads, all join the chain."""
    database, errors = get_database(app), []

    def write(thread: int) -> None:
        try:
            for n in range(15):
                with database.sessions() as session:
                    record(app, session, f"{thread}-{n}")
                    session.commit()
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(chained_ids(app)) == 6 * 15
