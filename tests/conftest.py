"""Fixtures: the application on SQLite and on a real PostgreSQL, and an API client."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from scimserver import create_app, schema_migrations
from scimserver.audit.log import GENESIS, HEAD_ID
from scimserver.audit.models import AuditHead
from scimserver.db import get_database
from scimserver.models import Base, Client, ResourceCount
from scimserver.policy.client_policies import set_policy
from scimserver.policy.client_view import EXTENSION_KEY
from scimserver.policy.clients import create_client
from scimserver.policy.templates import TEMPLATES
from tests.support.postgres import PostgresCluster, find_pg_bin

BASE_URL = "http://scim.test"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
LIFECYCLE = "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User"
SCIM_JSON = "application/scim+json"
#: Fixtures shared by tests in several folders.
pytest_plugins = ["tests.support.browser"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the session: given by env, or started here."""
    given = os.environ.get("SCIMSERVER_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    if find_pg_bin("initdb") is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL is not installed (CI installs it)")

    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> str:
    """A migrated database of each backend; every DB test runs on both."""
    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp("sqlite")
        url = f"sqlite:///{folder / 'scimserver.db'}"
    else:
        url = request.getfixturevalue("postgres_url")

    schema_migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
def schema_dir(tmp_path_factory: Any) -> str:
    """The shipped schemas with the optional Lifecycle extension switched on.

    Enabling an optional extension is configuration (a file and a line in the
    resource type), so the suite runs with every extension the code supports.
    """
    folder: Path = tmp_path_factory.mktemp("schemas") / "schemas"
    shutil.copytree(SCHEMAS, folder)
    shutil.copy(SCHEMAS / "optional" / "Lifecycle.json", folder / "Lifecycle.json")
    user_type_file = folder / "resource_types" / "User.json"
    user_type = json.loads(user_type_file.read_text())
    user_type["schemaExtensions"].insert(1, {"schema": LIFECYCLE, "required": False})
    user_type_file.write_text(json.dumps(user_type))
    return str(folder)


@pytest.fixture
def app(database_url: str, schema_dir: str) -> Iterator[Flask]:
    """The application on a clean database."""
    application = create_app(
        {"database_url": database_url, "base_url": BASE_URL, "schema_dir": schema_dir}
    )
    application.config["TESTING"] = True
    yield application

    empty_database(application)
    get_database(application).dispose()


def empty_database(app: Flask) -> None:
    """Delete every row, keeping the audit log's head row at its start.

    The resource counts go last: deleting resources writes them (by trigger).
    """
    with get_database(app).engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
        connection.execute(delete(ResourceCount))
        connection.execute(
            insert(AuditHead).values(id=HEAD_ID, seq=0, chain_hash=GENESIS)
        )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client without credentials."""
    return app.test_client()


@pytest.fixture
def token(app: Flask) -> str:
    """A bearer token with scim:read and scim:write."""
    return make_token(app, "hris", ["scim:read", "scim:write"])


@pytest.fixture
def scim(client: FlaskClient, token: str) -> ScimClient:
    """An authenticated SCIM client over the test client."""
    return ScimClient(client, token)


def make_token(
    app: Flask,
    name: str,
    scopes: list[str],
    policy: dict[str, Any] | str | None = "source-of-record",
) -> str:
    """Register a client and return its bearer token.

    ``policy`` is a policy document, the name of a template, or None for no
    policy (the server's default applies). Most tests exercise the SCIM protocol
    and act as the HRIS, so the default here is the source-of-record template.
    """
    with app.app_context(), get_database(app).sessions() as session:
        client, token = create_client(session, name, scopes)
        give_policy(app, session, client, policy)
        session.commit()
    return token


def give_policy(
    app: Flask, session: Session, client: Client, policy: dict[str, Any] | str | None
) -> None:
    """Store ``policy`` (a document or a template name) for ``client``."""
    if policy is None:
        return
    release = app.extensions[EXTENSION_KEY]
    document = (
        TEMPLATES[policy](release.registry, release.dictionary)
        if isinstance(policy, str)
        else policy
    )
    with app.app_context():
        set_policy(
            session,
            client,
            document,
            release.registry,
            release.dictionary,
            actor="test",
        )


class ScimClient:
    """Small helper that sends SCIM requests with a bearer token."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        headers.update(kwargs.pop("headers", {}))
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs.setdefault("content_type", SCIM_JSON)
        return self.client.open(
            "/scim/v2" + path, method=method, headers=headers, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)
