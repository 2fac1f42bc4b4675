"""The liveness and readiness probes, ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from scimserver import create_app, schema_migrations
from scimserver.db import get_database


def app_on(url: str) -> Iterator[FlaskClient]:
    """A test client of an application on ``url``; its engine is disposed after."""
    application = create_app({"database_url": url})
    yield application.test_client()
    get_database(application).dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'probe.db'}"


@pytest.fixture
def unmigrated(sqlite_url: str) -> Iterator[FlaskClient]:
    yield from app_on(sqlite_url)


@pytest.fixture
def migrated_by_newer_release(sqlite_url: str) -> Iterator[FlaskClient]:
    schema_migrations.upgrade(sqlite_url)
    for client in app_on(sqlite_url):
        with get_database(client.application).engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
        yield client


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[FlaskClient]:
    yield from app_on(f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_json_without_credentials(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_reports_a_current_schema(client: FlaskClient) -> None:
    body = client.get("/readyz").get_json()

    assert body == {"status": "ready", "database": "ok", "migrations": "current"}


def test_readyz_is_unavailable_before_migrations(unmigrated: FlaskClient) -> None:
    response = unmigrated.get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["migrations"] == "behind"


def test_readyz_stays_ready_when_a_newer_release_migrated(
    migrated_by_newer_release: FlaskClient,
) -> None:
    response = migrated_by_newer_release.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["migrations"] == "ahead"


def test_readyz_is_unavailable_without_database(unreachable: FlaskClient) -> None:
    response = unreachable.get("/readyz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}


def test_healthz_does_not_need_the_database(unreachable: FlaskClient) -> None:
    assert unreachable.get("/healthz").status_code == 200
