"""``scimserver clients create --profile`` and ``scimserver clients update``."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from scimserver.cli import main
from scimserver.db import get_database
from scimserver.models import Client


def settings_of(app: Flask, name: str) -> tuple[str, str]:
    with get_database(app).sessions() as session:
        client = session.scalar(select(Client).where(Client.name == name))
        assert client is not None
        return client.profile, client.deprovision


def test_a_new_client_is_standard_and_deletes_hard(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        main, ["clients", "create", "hris", "--scope", "scim:read"]
    )

    assert result.exit_code == 0, result.output
    assert settings_of(app, "hris") == ("standard", "hard")


def test_create_takes_a_profile_and_a_deprovisioning_mode(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        main,
        [
            "clients",
            "create",
            "entra",
            "--scope",
            "scim:write",
            "--profile",
            "entra",
            "--deprovision",
            "soft",
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("scs_")
    assert settings_of(app, "entra") == ("entra", "soft")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--profile", "okta"], ("okta", "hard")),
        (["--deprovision", "soft"], ("standard", "soft")),
        (["--profile", "entra", "--deprovision", "soft"], ("entra", "soft")),
        ([], ("standard", "hard")),
    ],
)
def test_update_changes_only_what_is_given(
    app: Flask, options: list[str], expected: tuple[str, str]
) -> None:
    runner = app.test_cli_runner()
    runner.invoke(main, ["clients", "create", "idp", "--scope", "scim:read"])

    result = runner.invoke(main, ["clients", "update", "idp", *options])

    assert result.exit_code == 0, result.output
    assert settings_of(app, "idp") == expected
    assert f"profile {expected[0]}, deprovision {expected[1]}" in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ["clients", "update", "nobody", "--profile", "okta"],
        ["clients", "update", "idp", "--profile", "workday"],
        ["clients", "create", "x", "--scope", "scim:read", "--deprovision", "later"],
    ],
)
def test_update_refuses_unknown_clients_and_values(
    app: Flask, arguments: list[str]
) -> None:
    runner = app.test_cli_runner()
    runner.invoke(main, ["clients", "create", "idp", "--scope", "scim:read"])

    result = runner.invoke(main, arguments)

    assert result.exit_code != 0
    assert settings_of(app, "idp") == ("standard", "hard")
