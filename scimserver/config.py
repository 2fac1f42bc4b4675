"""Settings read from the environment, with documented defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Every setting of the server; each maps to one ``SCIMSERVER_*`` variable."""

    #: SQLAlchemy URL of the database (SQLite file or PostgreSQL).
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'scimserver.db'}"
    #: Public base URL, used for ``meta.location`` and ``$ref`` values.
    base_url: str = "http://127.0.0.1:8000"
    #: Secret for signing; set a long random value in production.
    secret_key: str = "dev-only-secret-change-me"
    #: Folder holding the SCIM schema and resource type definitions.
    schema_dir: str = str(PROJECT_ROOT / "schemas")
    #: PEM file of the EC P-256 key that signs consent receipts; made if absent.
    receipt_key_file: str = str(PROJECT_ROOT / "var" / "receipt-signing-key.pem")
    #: Data controller (the employer) named in consent receipts.
    receipt_controller: str = "Employer"
    #: Jurisdiction named in consent receipts, such as an ISO 3166 country code.
    receipt_jurisdiction: str = "EU"
    #: Page size used when a list request has no ``count``.
    default_page_size: int = 100
    #: Largest page a list request may ask for (advertised as filter.maxResults).
    max_page_size: int = 1000
    #: Seconds a paging cursor stays valid (advertised as pagination.cursorTimeout).
    cursor_timeout_seconds: int = 3600
    #: Requests per second each client may sustain; 0 disables rate limiting.
    rate_limit_per_second: int = 100
    #: Requests a client may send at once above that rate; 0 disables limiting.
    rate_limit_burst: int = 1000
    #: Largest request body accepted, in bytes (Bulk has its own limit).
    max_body_bytes: int = 1_048_576
    #: Most operations in one Bulk request (advertised as bulk.maxOperations).
    bulk_max_operations: int = 1000
    #: Largest Bulk request body, in bytes (advertised as bulk.maxPayloadSize).
    bulk_max_payload_bytes: int = 1_048_576
    #: Log level of the ``scimserver`` loggers.
    log_level: str = "INFO"
    #: Database connections pooled per worker process; ``deploy/gunicorn.conf.py``
    #: sets it to the worker's thread count when unset.
    db_pool_size: int = 4
    #: Seconds a worker process reuses a checked bearer token without asking the
    #: database; a token revoked elsewhere stops working within this time. 0 checks
    #: every request.
    token_cache_seconds: int = 5
    #: TOML file declaring the outbound connectors (webhook, SCIM push); empty
    #: declares none, and no change is queued for delivery.
    connectors_file: str = ""
    #: TOML file of the referral rules (learning event -> EAP referral offer);
    #: empty offers no referral on learning events (self-referral still works).
    referral_rules_file: str = ""
    #: The programme report hides counts below this, so that no figure points
    #: at a few employees.
    report_min_count: int = 5
    #: Delivery worker threads run inside each server process; 0 leaves delivery
    #: to ``scimserver worker`` (``make run`` sets 1).
    embedded_workers: int = 0
    #: Seconds a delivery worker holds an outbox event it is delivering; after
    #: that, another worker takes over (the first one died). Keep it above
    #: every connector's timeout.
    outbox_lease_seconds: int = 300
    #: TOML file of the upstream identity providers (SAML, OpenID Connect) and
    #: the consents offered on the consent page; empty turns single sign-on off.
    sso_config_file: str = ""
    #: Seconds an OpenID Provider authorization code stays redeemable.
    oidc_code_seconds: int = 60
    #: Seconds the OpenID Provider's access tokens and ID tokens stay valid.
    oidc_token_seconds: int = 900
    #: Seconds a retired ID token signing key stays in the JWKS after rotation;
    #: keep it above ``oidc_token_seconds`` so that issued tokens still verify.
    oidc_retired_key_seconds: int = 86400

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``SCIMSERVER_<NAME>`` variables."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        for field in fields(cls):
            variable = f"SCIMSERVER_{field.name.upper()}"
            raw = environ.get(variable)
            if raw is None:
                continue
            values[field.name] = (
                _whole_number(variable, raw) if field.type == "int" else raw
            )

        return cls(**values)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """Return a copy with some settings replaced (used by tests)."""
        return replace(self, **overrides)


def _whole_number(variable: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {raw!r}") from None
