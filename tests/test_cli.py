"""The ``scimserver`` command line, run through Click's test runner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from scimserver.cli import main
from scimserver.db import get_database
from scimserver.models import ClientToken
from scimserver.policy.clients import hash_token
from tests.conftest import ScimClient


def test_clients_create_prints_only_the_token_and_stores_its_hash(app: Flask) -> None:
    runner = app.test_cli_runner()

    result = runner.invoke(main, ["clients", "create", "lms", "--scope", "scim:read"])

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("scs_") and "\n" not in token
    with get_database(app).sessions() as session:
        stored = session.scalars(select(ClientToken.token_hash)).all()
    assert stored == [hash_token(token)]
    assert token not in stored


def test_created_token_authenticates(app: Flask) -> None:
    runner = app.test_cli_runner()
    token = runner.invoke(
        main, ["clients", "create", "lms", "--scope", "scim:read"]
    ).stdout.strip()

    response = ScimClient(app.test_client(), token).get("/Users")

    assert response.status_code == 200


def test_duplicate_client_name_fails_cleanly(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(main, ["clients", "create", "lms", "--scope", "scim:read"])

    result = runner.invoke(main, ["clients", "create", "lms", "--scope", "scim:read"])

    assert result.exit_code != 0
    assert "exists already" in result.output


def test_unknown_scope_is_refused(app: Flask) -> None:
    runner = app.test_cli_runner()

    result = runner.invoke(main, ["clients", "create", "x", "--scope", "root"])

    assert result.exit_code != 0


def test_demo_load_is_idempotent(app: Flask, scim: ScimClient) -> None:
    runner = app.test_cli_runner()

    first = runner.invoke(main, ["demo", "load"])
    second = runner.invoke(main, ["demo", "load"])

    assert first.exit_code == 0 and second.exit_code == 0, first.output
    users = scim.get("/Users?count=0").get_json()["totalResults"]
    groups = scim.get("/Groups?count=0").get_json()["totalResults"]
    assert (users, groups) == (6, 3)


def test_a_wrong_setting_stops_a_command_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    environment = {
        "SCIMSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "SCIMSERVER_CONNECTORS_FILE": str(tmp_path / "missing.toml"),
    }

    missing_file = runner.invoke(main, ["db", "upgrade"], env=environment)
    environment["SCIMSERVER_RATE_LIMIT_BURST"] = "lots"
    not_a_number = runner.invoke(main, ["db", "upgrade"], env=environment)

    assert missing_file.exit_code == 1
    assert "cannot start: cannot read connectors file" in missing_file.output
    assert "missing.toml" in missing_file.output
    assert not_a_number.exit_code == 1
    assert "SCIMSERVER_RATE_LIMIT_BURST must be a whole number" in not_a_number.output
    assert not (tmp_path / "x.db").exists()
