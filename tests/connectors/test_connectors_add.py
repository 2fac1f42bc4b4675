"""``scimserver connectors add`` writes an entry the server then loads."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from scimserver.cli import main
from scimserver.connectors.config import load_catalog
from scimserver.connectors.webhook import WebhookConnector
from scimserver.policy.client_view import EXTENSION_KEY
from tests.connectors.outbox_support import SECRET, SECRET_ENV

POLICY = {"read": {"classifications": ["public"]}}


def add(app: Flask, path: Path, *args: str) -> Result:
    return app.test_cli_runner().invoke(
        main, ["connectors", "add", *args, "--file", str(path)]
    )


def test_an_added_webhook_is_loaded_as_written(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    path = tmp_path / "connectors.toml"
    policy = tmp_path / "lms.json"
    policy.write_text(json.dumps(POLICY))

    result = add(
        app,
        path,
        "lms",
        "--type",
        "webhook",
        "--url",
        'https://lms.example.com/hooks?x="1"',
        "--secret-env",
        SECRET_ENV,
        "--scope-group",
        "Pilot cohort",
        "--policy-file",
        str(policy),
    )

    assert result.exit_code == 0, result.output
    (entry,) = tomllib.loads(path.read_text())["connectors"]
    assert entry["url"] == 'https://lms.example.com/hooks?x="1"'
    assert entry["scope"] == {"group": "Pilot cohort"}
    release = app.extensions[EXTENSION_KEY]
    with app.app_context():
        catalog = load_catalog(
            path, release.registry, release.dictionary, release.pseudonym_key
        )
    assert isinstance(catalog.sender("lms"), WebhookConnector)
    assert SECRET not in path.read_text()


def test_a_duplicate_or_invalid_entry_leaves_the_file_alone(
    app: Flask, tmp_path: Path
) -> None:
    path = tmp_path / "connectors.toml"
    first = add(app, path, "lms", "--type", "webhook", "--url", "https://x.test/")
    before = path.read_text()

    again = add(app, path, "lms", "--type", "webhook", "--url", "https://y.test/")
    broken = add(
        app,
        path,
        "eap",
        "--type",
        "webhook",
        "--url",
        "https://z.test/",
        "--consent-purpose",
        "eap_referral",
    )

    assert first.exit_code == 0, first.output
    assert again.exit_code == 1 and "already" in again.output
    assert broken.exit_code == 1
    assert path.read_text() == before
