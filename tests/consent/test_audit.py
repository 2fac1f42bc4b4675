"""Consent grants and withdrawals, and client changes, reach the audit log."""

from __future__ import annotations

import json

from flask import Flask

from scimserver.cli import main
from tests.audit.test_events import exported
from tests.conftest import ScimClient
from tests.consent.conftest import ConsentClient
from tests.scim.test_api_users import create_user


def test_consent_changes_and_client_changes_are_audited(
    app: Flask, scim: ScimClient, consents: ConsentClient
) -> None:
    user = create_user(scim, "grace")
    record = consents.granted(user["id"])
    consents.withdraw(record["consentToken"])
    app.test_cli_runner().invoke(
        main, ["clients", "create", "lms", "--scope", "scim:read"]
    )

    entries = exported(app)

    actions = [e["action"] for e in entries]
    assert actions[-3:] == ["consent.grant", "consent.withdraw", "client.create"]
    assert record["consentToken"] not in json.dumps(entries)
    verified = app.test_cli_runner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
