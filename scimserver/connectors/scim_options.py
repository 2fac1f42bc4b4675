"""Options of a ``scim`` connector, read from its entry in the connectors file.

::

    [[connectors]]
    name = "lms"
    type = "scim"
    url = "https://lms.example.com/scim/v2"     # base URL of the SCIM endpoint
    update = "patch"                # or "put" (full replace, RFC 7644 §3.5.1)
    on_leave = "deactivate"         # or "delete"
    timeout = 10.0                  # seconds per request
    connect_timeout = 5.0
    page_size = 100                 # page of the paged GETs of a sync
    sector = "lms"                  # pseudonym sector of mappings (default:
                                    # the release policy's, else the name)
    auth = { type = "bearer", token_env = "LMS_SCIM_TOKEN" }
    # auth = { type = "client_credentials", token_url = "https://...",
    #          client_id = "hub", client_secret_env = "LMS_CLIENT_SECRET",
    #          scope = "scim" }

The keys every connector type shares (scope, policy, consent, retries; see
:mod:`scimserver.connectors.config`) are that module's to check and are
ignored here. Secrets are named by environment variable and read when the
connector is built; their values never appear in an error or a log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scimserver.connectors.config import SHARED_KEYS
from scimserver.policy.pseudonyms import SECTOR_PATTERN

logger = logging.getLogger(__name__)

OWN_KEYS = frozenset(
    {
        "url",
        "auth",
        "update",
        "on_leave",
        "sector",
        "timeout",
        "connect_timeout",
        "page_size",
    }
)


class ConnectorConfigError(ValueError):
    """A connector's options are missing, unknown or malformed."""


@dataclass(frozen=True)
class BearerAuth:
    """A static bearer token (RFC 6750 §2.1)."""

    token: str

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


@dataclass(frozen=True)
class ClientCredentialsAuth:
    """OAuth 2.0 client credentials (RFC 6749 §4.4) against ``token_url``."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsAuth(token_url={self.token_url!r}, "
            f"client_id={self.client_id!r}, client_secret=***)"
        )


@dataclass(frozen=True)
class ScimPushOptions:
    """The validated options of one ``scim`` connector."""

    url: str
    auth: BearerAuth | ClientCredentialsAuth
    update: Literal["patch", "put"] = "patch"
    on_leave: Literal["deactivate", "delete"] = "deactivate"
    #: None: the release policy's sector, else the connector's name.
    sector: str | None = None
    timeout: float = 10.0
    connect_timeout: float = 5.0
    page_size: int = 100


def parse_options(name: str, options: Mapping[str, Any]) -> ScimPushOptions:
    """Validate the options of connector ``name``; raise with every problem."""
    where = f"connector {name!r}"
    unknown = sorted(set(options) - OWN_KEYS - SHARED_KEYS)
    if unknown:
        raise ConnectorConfigError(f"{where}: unknown options {', '.join(unknown)}")

    url = _text(options, "url", where)
    if not url.startswith(("http://", "https://")):
        raise ConnectorConfigError(f"{where}: url must be an http(s) URL")
    sector = options.get("sector")
    if sector is not None and not SECTOR_PATTERN.fullmatch(str(sector)):
        raise ConnectorConfigError(f"{where}: invalid sector {sector!r}")

    return ScimPushOptions(
        url=url.rstrip("/"),
        auth=_auth(options.get("auth"), where),
        update=_choice(options, "update", ("patch", "put"), where),
        on_leave=_choice(options, "on_leave", ("deactivate", "delete"), where),
        sector=None if sector is None else str(sector),
        timeout=_positive(options, "timeout", 10.0, where),
        connect_timeout=_positive(options, "connect_timeout", 5.0, where),
        page_size=int(_positive(options, "page_size", 100, where)),
    )


def _auth(table: Any, where: str) -> BearerAuth | ClientCredentialsAuth:
    if not isinstance(table, Mapping):
        raise ConnectorConfigError(f"{where}: auth must be a table with a type")
    kind = table.get("type")
    if kind == "bearer":
        return BearerAuth(token=_secret(table, "token_env", where))
    if kind == "client_credentials":
        scope = table.get("scope")
        return ClientCredentialsAuth(
            token_url=_text(table, "token_url", where),
            client_id=_text(table, "client_id", where),
            client_secret=_secret(table, "client_secret_env", where),
            scope=None if scope is None else str(scope),
        )
    raise ConnectorConfigError(
        f"{where}: auth.type must be 'bearer' or 'client_credentials'"
    )


def _secret(table: Mapping[str, Any], key: str, where: str) -> str:
    """Read the secret from the environment variable that ``key`` names."""
    variable = _text(table, key, where)
    value = os.environ.get(variable, "")
    if not value:
        raise ConnectorConfigError(
            f"{where}: environment variable {variable} (auth.{key}) is not set"
        )
    return value


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConnectorConfigError(f"{where}: {key} is required (a string)")
    return value.strip()


def _choice(
    table: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str
) -> Any:
    value = table.get(key, allowed[0])
    if value not in allowed:
        raise ConnectorConfigError(
            f"{where}: {key} must be one of {', '.join(allowed)}"
        )
    return value


def _positive(table: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConnectorConfigError(f"{where}: {key} must be a positive number")
    return float(value)
