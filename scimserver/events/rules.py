"""Referral rules: which learning events offer a referral, through which EAP.

The rules file is TOML, named by the ``referral_rules_file`` setting::

    version = "2026-12-01"          # recorded on every referral it creates

    [[rules]]
    name = "wellness-followup"
    on = "completed"                # completed, passed or progressed
    module = "wellness-101"         # the module id the LMS reports
    connector = "eap"               # an eap_referral connector
    reason = "voluntary_followup"

    [follow_up]                     # optional
    after_hours = 72                # no contact this long after sending...
    connector = "nudges"            # ...tells this referral_follow_up connector

A rule only offers: the referral is created when the User holds a consent in
effect for the connector's purpose and recipient, and at most one referral per
User, connector and module is open at a time. A mistake in the file stops the
start with :class:`RulesFileError`.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from scimserver.connectors.config import ConnectorCatalog
from scimserver.events.referrals import CONNECTOR_TYPE
from scimserver.events.statements import VERBS

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.referral_rules"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
FOLLOW_UP_TYPE = "referral_follow_up"
RULE_KEYS = frozenset({"name", "on", "module", "connector", "reason"})


class RulesFileError(ValueError):
    """The rules file is unreadable or declares a rule wrongly."""


@dataclass(frozen=True)
class ReferralRule:
    """When ``verb`` of ``module`` arrives, offer a referral through ``connector``."""

    name: str
    verb: str
    module: str
    connector: str
    reason: str


@dataclass(frozen=True)
class FollowUp:
    """Tell ``connector`` when no contact was reported ``after_hours`` after sending."""

    after_hours: float
    connector: str


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file, the file's version, and the follow-up if any."""

    version: str | None
    rules: tuple[ReferralRule, ...]
    follow_up: FollowUp | None = None

    def matching(self, verb: str, module_id: str) -> list[ReferralRule]:
        """The rules a ``verb`` of ``module_id`` triggers."""
        return [r for r in self.rules if (r.verb, r.module) == (verb, module_id)]


def init_app(app: Flask, catalog: ConnectorCatalog) -> None:
    """Read the rules file of ``app``'s settings; fail start-up on a mistake."""
    path = app.config["SETTINGS"].referral_rules_file
    rules = RuleSet(None, ())
    if path:
        rules = load_rules(Path(path), catalog)
        logger.info("referral rules loaded count=%d", len(rules.rules))
    app.extensions[EXTENSION_KEY] = rules


def current_rules() -> RuleSet:
    """The referral rules of the current application."""
    rules: RuleSet = current_app.extensions[EXTENSION_KEY]
    return rules


def load_rules(path: Path, catalog: ConnectorCatalog) -> RuleSet:
    """Read and check ``path``; every rule must name an eap_referral connector."""
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise RulesFileError(
            f"cannot read rules file {path}: {error.strerror}"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise RulesFileError(f"rules file {path}: {error}") from None

    unknown = sorted(set(document) - {"version", "rules", "follow_up"})
    if unknown:
        raise RulesFileError(f"unknown top-level keys: {', '.join(unknown)}")
    version = document.get("version")
    if version is not None and not isinstance(version, str | int):
        raise RulesFileError("version must be a string or a number")
    tables = document.get("rules", [])
    if not isinstance(tables, list):
        raise RulesFileError("'rules' must be an array of tables ([[rules]])")

    rules = tuple(_rule(table, catalog) for table in tables)
    follow_up = _follow_up(document.get("follow_up"), catalog)
    return RuleSet(None if version is None else str(version), rules, follow_up)


def _follow_up(table: Any, catalog: ConnectorCatalog) -> FollowUp | None:
    if table is None:
        return None
    if not isinstance(table, Mapping) or set(table) != {"after_hours", "connector"}:
        raise RulesFileError("follow_up takes after_hours and connector")
    hours, name = table["after_hours"], table["connector"]
    if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
        raise RulesFileError("follow_up.after_hours must be a number of hours >= 0")
    config = catalog.get(str(name))
    if config is None or config.type != FOLLOW_UP_TYPE:
        raise RulesFileError(
            f"follow_up.connector {name!r} is not a referral_follow_up connector"
        )
    return FollowUp(float(hours), config.name)


def _rule(table: Any, catalog: ConnectorCatalog) -> ReferralRule:
    if not isinstance(table, Mapping):
        raise RulesFileError("each rule must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise RulesFileError(
            f"rule name {name!r}: use lower-case letters, digits, -, _"
        )
    where = f"rule {name!r}"
    unknown = sorted(set(table) - RULE_KEYS)
    if unknown:
        raise RulesFileError(f"{where}: unknown keys {', '.join(unknown)}")
    if table.get("on") not in VERBS:
        raise RulesFileError(f"{where}: on must be one of {', '.join(VERBS)}")

    values = {key: table.get(key) for key in ("module", "connector", "reason")}
    for key, value in values.items():
        if not isinstance(value, str) or not value:
            raise RulesFileError(f"{where}: {key} must be a non-empty string")
    config = catalog.get(str(values["connector"]))
    if config is None or config.type != CONNECTOR_TYPE:
        raise RulesFileError(
            f"{where}: connector {values['connector']!r} is not an eap_referral "
            "connector of the connectors file"
        )
    return ReferralRule(
        name,
        str(table["on"]),
        str(values["module"]),
        str(config.name),
        str(values["reason"]),
    )
