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
    #: Page size used when a list request has no ``count``.
    default_page_size: int = 100
    #: Largest page a list request may ask for (advertised as filter.maxResults).
    max_page_size: int = 1000
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 1_048_576
    #: Log level of the ``scimserver`` loggers.
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``SCIMSERVER_<NAME>`` variables."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        for field in fields(cls):
            raw = environ.get(f"SCIMSERVER_{field.name.upper()}")
            if raw is None:
                continue
            values[field.name] = int(raw) if field.type == "int" else raw

        return cls(**values)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """Return a copy with some settings replaced (used by tests)."""
        return replace(self, **overrides)
