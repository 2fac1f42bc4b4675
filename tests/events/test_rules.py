"""The referral rules file and the eap_referral connector's options."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from scimserver.connectors.config import ConnectorCatalog, ConnectorsFileError
from scimserver.events.eap_connector import EapReferralConnector
from scimserver.events.rules import RulesFileError, load_rules
from tests.connectors.outbox_support import hris, make_hub, outbox_rows
from tests.events.support import (
    EAP_SECRET_ENV,
    RULES,
    eap,
    hub,
    new_employee,
)

__all__ = ["eap", "hub", "make_hub"]


def test_rules_are_read_with_their_version(hub: Flask, tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)

    rules = load_rules(path, hub.extensions["scimserver.connectors"])

    assert rules.version == "2026-12-01"
    [rule] = rules.matching("completed", "wellness-101")
    assert (rule.name, rule.connector, rule.reason) == (
        "wellness-followup",
        "eap",
        "voluntary_followup",
    )
    assert rules.matching("progressed", "wellness-101") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('on = "completed"', 'on = "liked"'), "on must be one of"),
        (('connector = "eap"', 'connector = "lms"'), "not an eap_referral"),
        (('name = "wellness-followup"', 'name = "Bad Name"'), "rule name"),
        (('reason = "voluntary_followup"', 'reason = ""'), "reason must be"),
        (('module = "wellness-101"', 'modul = "x"'), "unknown keys modul"),
        (("[[rules]]", "[rules.one]"), "array of tables"),
    ],
)
def test_mistakes_in_the_rules_file_are_named(
    hub: Flask, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES.replace(*change))

    with pytest.raises(RulesFileError, match=message):
        load_rules(path, hub.extensions["scimserver.connectors"])


def test_rules_need_a_configured_connector(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)

    with pytest.raises(RulesFileError, match="not an eap_referral connector"):
        load_rules(path, ConnectorCatalog([], {}))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://eap"}, "url must be an http"),
        ({"consent": {"purpose": "x"}}, "not consent or scope"),
        ({"secret_env": "EVENTS_TEST_UNSET"}, "is not set"),
        ({"colour": "blue"}, "unknown keys colour"),
    ],
)
def test_connector_options_are_checked(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, object], message: str
) -> None:
    monkeypatch.setenv(EAP_SECRET_ENV, "whsec_" + "QUJD" * 8)
    monkeypatch.delenv("EVENTS_TEST_UNSET", raising=False)
    table = {
        "url": "http://127.0.0.1/eap",
        "secret_env": EAP_SECRET_ENV,
        "callback_secret_env": EAP_SECRET_ENV,
        **options,
    }

    with pytest.raises(ConnectorsFileError, match=message):
        EapReferralConnector.from_options("eap", table)


def test_user_changes_are_not_queued_for_the_eap(hub: Flask) -> None:
    new_employee(hris(hub), "bjensen")

    assert outbox_rows(hub) == []
