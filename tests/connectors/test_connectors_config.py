"""The connectors file: mistakes stop the start, each connector type is built."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer

from scimserver.cli import main
from scimserver.connectors.config import ConnectorsFileError, current_catalog
from scimserver.connectors.webhook import WebhookConnector
from tests.connectors.outbox_support import (
    HOOK_PATH,
    SECRET_ENV,
    MakeHub,
    make_hub,
    webhook_toml,
)

__all__ = ["make_hub"]

STARTUP_SECONDS = 30
IDLE_SECONDS = 0.5


@pytest.mark.parametrize(
    ("toml_line", "message"),
    [
        ('type = "ftp"', "type must be one of webhook, scim"),
        ('scope = { team = "x" }', "scope must be"),
        ("max_attempts = 0", "need max_attempts >= 1"),
        ('colour = "blue"', "unknown keys colour"),
    ],
)
def test_configuration_mistakes_stop_the_start(
    make_hub: MakeHub, httpserver: HTTPServer, toml_line: str, message: str
) -> None:
    toml = webhook_toml(httpserver.url_for(HOOK_PATH))
    key = toml_line.split(" ", 1)[0]
    toml = "\n".join(
        line for line in toml.splitlines() if not line.startswith(f"{key} ")
    )
    toml = toml.replace('name = "lms"', f'name = "lms"\n{toml_line}')

    with pytest.raises(ConnectorsFileError, match=message):
        make_hub(toml)


def test_missing_secret_and_bad_policy_are_named_without_values(
    make_hub: MakeHub, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = httpserver.url_for(HOOK_PATH)
    bad_policy = '[connectors.policy]\nread = { attributes = ["nickName2"] }'
    with pytest.raises(ConnectorsFileError, match="connector 'lms': policy: "):
        make_hub(webhook_toml(url, policy=bad_policy))

    monkeypatch.delenv("OUTBOX_TEST_WEBHOOK_SECRET")
    with pytest.raises(ConnectorsFileError, match="OUTBOX_TEST_WEBHOOK_SECRET "):
        make_hub(webhook_toml(url))


def test_a_scim_connector_is_built_by_the_push_module(
    make_hub: MakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scimserver.connectors.scim_push import ScimPushConnector

    monkeypatch.setenv("OUTBOX_TEST_SCIM_TOKEN", "downstream-token")
    (tmp_path / "eap-policy.json").write_text(
        json.dumps({"read": {"classifications": ["public"]}})
    )
    toml = """
[[connectors]]
name = "eap"
type = "scim"
url = "http://127.0.0.1:9/scim/v2"
auth = { type = "bearer", token_env = "OUTBOX_TEST_SCIM_TOKEN" }
policy_file = "eap-policy.json"
consent = { purpose = "eap_referral", recipient = "eap-vendor" }

[[connectors]]
name = "off"
type = "webhook"
enabled = false
"""
    app = make_hub(toml)

    with app.app_context():
        catalog = current_catalog()
    assert sorted(catalog.configs) == ["eap"]
    assert isinstance(catalog.sender("eap"), ScimPushConnector)
    config = catalog.configs["eap"]
    assert config.policy.document.read_classifications == ("public",)
    assert config.consent is not None and config.consent.recipient == "eap-vendor"


def test_webhook_table_form_and_secret_list(
    make_hub: MakeHub, httpserver: HTTPServer
) -> None:
    url = httpserver.url_for(HOOK_PATH)
    app = make_hub(
        f"""
[connectors.lms]
type = "webhook"
url = "{url}"
secret_env = ["{SECRET_ENV}"]
"""
    )

    with app.app_context():
        sender = current_catalog().sender("lms")
    assert isinstance(sender, WebhookConnector) and sender.url == url


def test_a_single_pass_refuses_to_run_without_connectors(app: Flask) -> None:
    result = app.test_cli_runner().invoke(main, ["worker", "--once"])

    assert result.exit_code == 1
    assert "SCIMSERVER_CONNECTORS_FILE" in result.output


def test_a_worker_without_connectors_waits_and_beats_until_stopped(
    tmp_path: Path, database_url: str, schema_dir: str
) -> None:
    environment = {
        **os.environ,
        "SCIMSERVER_DATABASE_URL": database_url,
        "SCIMSERVER_SCHEMA_DIR": schema_dir,
        "SCIMSERVER_CONNECTORS_FILE": "",
    }
    command = [sys.executable, "-c", "from scimserver.cli import main; main()"]
    log, heartbeat = tmp_path / "worker.log", tmp_path / "heartbeat"
    arguments = ["worker", "--poll", "0.1", "--heartbeat", str(heartbeat)]
    with log.open("w") as output:
        worker = subprocess.Popen(
            [*command, *arguments], env=environment, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "delivery worker idle" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker said nothing"
            time.sleep(0.1)
        first_beat = heartbeat.stat().st_mtime_ns
        time.sleep(IDLE_SECONDS)
        running = worker.poll() is None
        last_beat = heartbeat.stat().st_mtime_ns
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)

    assert running
    assert last_beat > first_beat
    assert worker.returncode == 0
    assert "SCIMSERVER_CONNECTORS_FILE" in log.read_text()
