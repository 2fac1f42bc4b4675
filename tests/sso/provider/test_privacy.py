"""No code, token, secret or claim value reaches a log line or the audit log."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.base_client.errors import OAuthError
from flask import Flask

from scimserver.audit.log import export_lines
from scimserver.db import get_database
from tests.sso.provider.conftest import AppClient, LiveHub, Party, browser_for

#: The hub's loggers; the test's own HTTP client logs what it receives.
SERVER_LOGGERS = ("scimserver", "authlib", "werkzeug", "sqlalchemy")


def test_a_sign_in_logs_and_audits_names_never_values(
    hub: LiveHub,
    app: Flask,
    lms: Party,
    employee: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rp = AppClient(hub, lms)
    callback = rp.start(browser_for(hub, employee)).headers["Location"]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    signed_in = rp.finish(callback)
    rp.userinfo(signed_in.token["access_token"])
    with pytest.raises(OAuthError):
        rp.finish(callback)  # a replay, refused and audited

    secrets = [
        code,
        signed_in.token["access_token"],
        signed_in.token["id_token"],
        lms.secret,
        "ada@corp.example",
        "Lovelace",
    ]
    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(SERVER_LOGGERS)
    )
    with get_database(app).sessions() as session:
        buffer = io.StringIO()
        export_lines(session, buffer)
    audited = buffer.getvalue()

    for secret in secrets:
        assert secret not in logged
        assert secret not in audited
    actions = [json.loads(line)["action"] for line in audited.splitlines()]
    assert {"oidc.authorize", "oidc.id_token", "oidc.userinfo"} <= set(actions)
    assert "oidc.code_replay" in actions
