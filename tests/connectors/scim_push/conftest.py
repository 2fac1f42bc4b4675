"""Fixtures of the SCIM push connector tests: a downstream server and a connector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from scimserver import create_app, schema_migrations
from scimserver.connectors.scim_push import ScimPushConnector
from scimserver.db import get_database
from tests.conftest import BASE_URL
from tests.connectors.scim_push.downstream import (
    TOKEN_ENV,
    Downstream,
    MakeConnector,
    connectors_file,
    serve_downstream,
)


@pytest.fixture(scope="session")
def downstream_template(tmp_path_factory: Any) -> Path:
    """A migrated SQLite database, copied for each downstream server."""
    folder: Path = tmp_path_factory.mktemp("downstream")
    path = folder / "template.db"
    schema_migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def downstream(
    downstream_template: Path,
    tmp_path: Path,
    schema_dir: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Downstream]:
    """A real scimserver on 127.0.0.1, empty, with a token in the environment."""
    with serve_downstream(downstream_template, tmp_path, schema_dir) as server:
        monkeypatch.setenv(TOKEN_ENV, server.token)
        yield server


@pytest.fixture
def make_connector(downstream: Downstream) -> Iterator[MakeConnector]:
    """Build ``scim`` connectors on the downstream server; options override."""
    made: list[ScimPushConnector] = []

    def make(name: str = "lms", **options: Any) -> ScimPushConnector:
        table = {
            "type": "scim",
            "url": downstream.url,
            "auth": {"type": "bearer", "token_env": TOKEN_ENV},
            **options,
        }
        connector = ScimPushConnector.from_options(name, table)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def hub(
    app: Flask,
    database_url: str,
    schema_dir: str,
    downstream: Downstream,
    tmp_path: Path,
) -> Iterator[Flask]:
    """The hub (on ``app``'s database) with a ``scim`` connector ``lms``.

    Pages of two Users, so that a sync reads the downstream in several GETs.
    """
    path = connectors_file(tmp_path, downstream.url, page_size=2)
    application = create_app(
        {
            "database_url": database_url,
            "base_url": BASE_URL,
            "schema_dir": schema_dir,
            "connectors_file": str(path),
        }
    )
    yield application
    get_database(application).dispose()
