"""The connectors file: which systems receive changes, what and whose data.

The file is TOML, named by the ``connectors_file`` setting; without it no
connector exists and no change is queued. Each ``[[connectors]]`` entry::

    [[connectors]]
    name = "lms"                       # also the release policy's client name
    type = "webhook"                   # webhook or scim
    url = "https://lms.example.com/hooks/scim"
    secret_env = ["LMS_WEBHOOK_SECRET", "LMS_WEBHOOK_SECRET_OLD"]
    scope = { group = "Pilot cohort" } # a Group id or displayName; or "all"
    max_attempts = 10                  # then the event is a dead letter
    backoff = { base_seconds = 2, max_seconds = 3600 }
    policy_file = "lms-policy.json"    # or an inline [connectors.policy] table
    consent = { purpose = "eap_referral", recipient = "eap-vendor" }
    on_consent_withdrawn = "deprovision"   # or remove_attributes

The release policy has the format of :mod:`scimserver.policy.policy_document`;
without one a connector gets :data:`DEFAULT_POLICY` (public attributes under
pseudonyms). Secrets are never written in the file: it names environment
variables, read at start-up. Every mistake stops the start with
:class:`ConnectorsFileError` naming the connector and the key.
"""

from __future__ import annotations

import importlib
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from scimserver.connectors.base import Connector
from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.policy_document import (
    DEFAULT_POLICY,
    PolicyDocument,
    PolicyError,
    parse_policy,
)
from scimserver.policy.pseudonyms import derive_key
from scimserver.policy.release import ReleasePolicy
from scimserver.scim.schema import SchemaRegistry

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.connectors"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
TYPES = ("webhook", "scim", "eap_referral", "referral_follow_up")
REMOVALS = ("remove_attributes", "deprovision")
#: Keys every connector type shares; the rest belong to the type.
SHARED_KEYS = frozenset(
    {
        "name",
        "type",
        "enabled",
        "scope",
        "policy",
        "policy_file",
        "consent",
        "on_consent_withdrawn",
        "max_attempts",
        "backoff",
    }
)


class ConnectorsFileError(ValueError):
    """The connectors file is unreadable or declares a connector wrongly."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently an event is retried before it goes dead."""

    max_attempts: int = 10
    base_seconds: float = 2.0
    max_seconds: float = 3600.0


@dataclass(frozen=True)
class ConsentRequirement:
    """The consent a User must have granted before the connector gets them."""

    purpose: str
    recipient: str


@dataclass(frozen=True)
class ConnectorConfig:
    """One declared connector, validated, with its release policy built."""

    name: str
    type: str
    #: A Group id or displayName; None means every User and Group.
    scope_group: str | None
    policy: ReleasePolicy
    consent: ConsentRequirement | None
    #: What a withdrawal removes downstream: the User, or the consented data.
    on_consent_withdrawn: str
    retry: RetryPolicy
    #: The connector's table as written, for the type's own options.
    options: Mapping[str, Any]


class ConnectorCatalog:
    """The connectors of one application, by name, with their built senders."""

    def __init__(
        self, configs: list[ConnectorConfig], senders: dict[str, Connector]
    ) -> None:
        self.configs = {config.name: config for config in configs}
        self.senders = senders

    def __bool__(self) -> bool:
        return bool(self.configs)

    def get(self, name: str) -> ConnectorConfig | None:
        """The connector named ``name``, or None when the file has none."""
        return self.configs.get(name)

    def sender(self, name: str) -> Connector:
        """The object that delivers the events of connector ``name``."""
        return self.senders[name]


def init_app(app: Flask, registry: SchemaRegistry) -> None:
    """Read the connectors file of ``app``'s settings; fail start-up on a mistake."""
    settings = app.config["SETTINGS"]
    catalog = ConnectorCatalog([], {})
    if settings.connectors_file:
        dictionary = DataDictionary.load(settings.schema_dir)
        catalog = load_catalog(
            Path(settings.connectors_file),
            registry,
            dictionary,
            derive_key(settings.secret_key),
            source=settings.base_url,
        )
        logger.info("connectors loaded names=%s", sorted(catalog.configs))
    app.extensions[EXTENSION_KEY] = catalog


def current_catalog() -> ConnectorCatalog:
    """The connectors of the current application."""
    catalog: ConnectorCatalog = current_app.extensions[EXTENSION_KEY]
    return catalog


def load_catalog(
    path: Path,
    registry: SchemaRegistry,
    dictionary: DataDictionary,
    pseudonym_key: bytes,
    *,
    source: str = "/scimserver",
) -> ConnectorCatalog:
    """Read ``path`` and build every enabled connector it declares.

    ``source`` names the hub in the events it sends (its base URL).
    """
    entries = read_entries(path)
    configs: list[ConnectorConfig] = []
    for table in entries:
        if table.get("enabled", True) is False:
            continue
        config = parse_connector(
            table, path.parent, registry, dictionary, pseudonym_key
        )
        if any(known.name == config.name for known in configs):
            raise ConnectorsFileError(f"connector {config.name!r} is declared twice")
        configs.append(config)

    senders = {config.name: build_sender(config, source) for config in configs}
    return ConnectorCatalog(configs, senders)


def parse_connector(
    table: Mapping[str, Any],
    folder: Path,
    registry: SchemaRegistry,
    dictionary: DataDictionary,
    pseudonym_key: bytes,
) -> ConnectorConfig:
    """Validate one ``[[connectors]]`` entry; relative files are under ``folder``."""
    name = table.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConnectorsFileError(
            f"connector name {name!r}: use 1-63 lower-case letters, digits, - or _"
        )
    where = f"connector {name!r}"
    kind = _choice(table, "type", TYPES, where, default=None)

    document = _policy_document(table, folder, registry, dictionary, where)
    policy = ReleasePolicy(document, name, dictionary, pseudonym_key=pseudonym_key)
    return ConnectorConfig(
        name=name,
        type=kind,
        scope_group=_scope_group(table.get("scope", "all"), where),
        policy=policy,
        consent=_consent(table.get("consent"), policy, where),
        on_consent_withdrawn=_choice(
            table, "on_consent_withdrawn", REMOVALS, where, default=REMOVALS[0]
        ),
        retry=_retry(table, where),
        options=dict(table),
    )


def build_sender(config: ConnectorConfig, source: str) -> Connector:
    """Construct the connector object of ``config``'s type."""
    if config.type == "webhook":
        from scimserver.connectors.webhook import WebhookConnector

        return WebhookConnector.from_options(config.name, config.options, source=source)
    if config.type == "eap_referral":
        from scimserver.events.eap_connector import EapReferralConnector

        return EapReferralConnector.from_options(config.name, config.options)
    if config.type == "referral_follow_up":
        from scimserver.events.follow_up import FollowUpConnector

        return FollowUpConnector.from_options(config.name, config.options, source)

    try:
        module = importlib.import_module("scimserver.connectors.scim_push")
    except ImportError as error:
        raise ConnectorsFileError(
            f"connector {config.name!r}: type 'scim' is not available in this "
            f"installation ({error})"
        ) from None
    try:
        sender: Connector = module.ScimPushConnector.from_options(
            config.name, config.options
        )
    except ValueError as error:
        raise ConnectorsFileError(str(error)) from None
    return sender


def read_entries(path: Path) -> list[Mapping[str, Any]]:
    """The connector entries of the file at ``path``, enabled or not, unchecked."""
    return _entries(_read_toml(path))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConnectorsFileError(
            f"cannot read connectors file {path}: {error.strerror}"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConnectorsFileError(f"connectors file {path}: {error}") from None


def _entries(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``[[connectors]]`` array; ``[connectors.NAME]`` tables are read too."""
    unknown = sorted(set(document) - {"connectors"})
    if unknown:
        raise ConnectorsFileError(f"unknown top-level keys: {', '.join(unknown)}")
    found = document.get("connectors", [])
    if isinstance(found, Mapping):
        return [
            {"name": name, **table}
            for name, table in found.items()
            if isinstance(table, Mapping)
        ]
    if not isinstance(found, list) or not all(isinstance(t, Mapping) for t in found):
        raise ConnectorsFileError("'connectors' must be an array of tables")
    return found


def _policy_document(
    table: Mapping[str, Any],
    folder: Path,
    registry: SchemaRegistry,
    dictionary: DataDictionary,
    where: str,
) -> PolicyDocument:
    inline, file_name = table.get("policy"), table.get("policy_file")
    if inline is not None and file_name is not None:
        raise ConnectorsFileError(f"{where}: give policy or policy_file, not both")
    source: str | Mapping[str, Any]
    if file_name is not None:
        try:
            source = (folder / str(file_name)).read_text("utf-8")
        except OSError as error:
            raise ConnectorsFileError(
                f"{where}: cannot read policy_file {file_name}: {error.strerror}"
            ) from None
    elif inline is not None:
        source = inline
    else:
        return DEFAULT_POLICY
    try:
        return parse_policy(source, registry, dictionary)
    except PolicyError as error:
        raise ConnectorsFileError(f"{where}: policy: {error}") from None


def _scope_group(scope: Any, where: str) -> str | None:
    if scope == "all":
        return None
    group = scope.get("group") if isinstance(scope, Mapping) else None
    if not isinstance(group, str) or not group.strip() or len(scope) != 1:
        raise ConnectorsFileError(
            f'{where}: scope must be "all" or {{ group = "<id or displayName>" }}'
        )
    return group.strip()


def _consent(
    table: Any, policy: ReleasePolicy, where: str
) -> ConsentRequirement | None:
    if table is None:
        return None
    purpose = table.get("purpose") if isinstance(table, Mapping) else None
    if not isinstance(purpose, str) or not purpose:
        raise ConnectorsFileError(f"{where}: consent needs a purpose")
    recipient = table.get("recipient", policy.recipient)
    if not isinstance(recipient, str) or not recipient:
        raise ConnectorsFileError(f"{where}: consent.recipient must be a name")
    return ConsentRequirement(purpose, recipient)


def _retry(table: Mapping[str, Any], where: str) -> RetryPolicy:
    attempts = table.get("max_attempts", RetryPolicy.max_attempts)
    backoff = table.get("backoff", {})
    if not isinstance(backoff, Mapping) or set(backoff) - {
        "base_seconds",
        "max_seconds",
    }:
        raise ConnectorsFileError(
            f"{where}: backoff takes base_seconds and max_seconds only"
        )
    base = backoff.get("base_seconds", RetryPolicy.base_seconds)
    ceiling = backoff.get("max_seconds", RetryPolicy.max_seconds)
    numbers = (attempts, base, ceiling)
    if any(isinstance(n, bool) or not isinstance(n, int | float) for n in numbers):
        raise ConnectorsFileError(f"{where}: max_attempts and backoff are numbers")
    if not isinstance(attempts, int) or attempts < 1 or base <= 0 or ceiling < base:
        raise ConnectorsFileError(
            f"{where}: need max_attempts >= 1 and 0 < base_seconds <= max_seconds"
        )
    return RetryPolicy(attempts, float(base), float(ceiling))


def _choice(
    table: Mapping[str, Any],
    key: str,
    allowed: tuple[str, ...],
    where: str,
    *,
    default: str | None,
) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise ConnectorsFileError(f"{where}: {key} must be one of {', '.join(allowed)}")
    return str(value)
