"""The audit log's hash chain detects edits, removals and reordering."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import text

from scimserver.audit import log as audit_log
from scimserver.cli import main
from scimserver.db import get_database

SECRET = "test-secret"


def write_entries(app: Flask, count: int) -> None:
    with get_database(app).sessions() as session:
        for n in range(count):
            audit_log.record(
                session,
                app.config["SETTINGS"].secret_key,
                actor="hris",
                action="user.update",
                resource_type="User",
                resource_id=f"user-{n}",
                attributes=["name.familyName", "emails"],
            )
        session.commit()


def verify(app: Flask) -> audit_log.Verification:
    with get_database(app).sessions() as session:
        return audit_log.verify(session, app.config["SETTINGS"].secret_key)


def run_sql(app: Flask, *statements: str) -> None:
    with get_database(app).engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_an_untouched_chain_verifies(app: Flask) -> None:
    write_entries(app, 5)

    result = verify(app)

    assert result.ok and result.checked == 5


@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        (
            ["UPDATE audit_entries SET action = 'user.read' WHERE seq = 3"],
            "entry 3 was altered",
        ),
        (
            ["UPDATE audit_entries SET attributes = '[]' WHERE seq = 2"],
            "entry 2 was altered",
        ),
        (["DELETE FROM audit_entries WHERE seq = 3"], "entry 3 is missing"),
        (["DELETE FROM audit_entries WHERE seq = 5"], "entries after 4 were removed"),
        (
            [
                "UPDATE audit_entries SET seq = 100 WHERE seq = 2",
                "UPDATE audit_entries SET seq = 2 WHERE seq = 3",
                "UPDATE audit_entries SET seq = 3 WHERE seq = 100",
            ],
            "entry 2 is out of order",
        ),
    ],
    ids=["edit", "edit attributes", "delete", "delete newest", "reorder"],
)
def test_tampering_is_detected_and_named(
    app: Flask, statements: list[str], problem: str
) -> None:
    write_entries(app, 5)
    run_sql(app, *statements)

    result = verify(app)

    assert not result.ok
    assert result.problem is not None and result.problem.startswith(problem)


def test_a_chain_rebuilt_without_the_key_is_detected(app: Flask) -> None:
    write_entries(app, 3)
    with get_database(app).sessions() as session:
        result = audit_log.verify(session, "another-secret")

    assert result.problem == "entry 1 was altered"


def test_cli_verify_and_export(app: Flask) -> None:
    write_entries(app, 2)
    runner = app.test_cli_runner()

    verified = runner.invoke(main, ["audit", "verify"])
    exported = runner.invoke(main, ["audit", "export"])
    run_sql(app, "UPDATE audit_entries SET actor = 'someone' WHERE seq = 1")
    broken = runner.invoke(main, ["audit", "verify"])

    assert verified.exit_code == 0 and "2 entries" in verified.stdout
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2]
    assert lines[1]["previous_hash"] == lines[0]["chain_hash"]
    assert broken.exit_code == 1
    assert "entry 1 was altered" in broken.output
