"""The Alembic migrations build exactly the schema that the models describe."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, make_url, text

from scimserver.db import make_engine
from scimserver.models import Base
from scimserver.schema_migrations import alembic_config, upgrade

#: Indexes on ``lower(...)`` that autogenerate can neither reflect nor compare.
EXPRESSION_INDEXES = {"uq_scim_resources_user_name", "ix_scim_resources_display_name"}
NEW_CLIENT_COLUMNS = {"profile", "deprovision", "jwt_issuer", "jwt_audience"}


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same backend as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return

    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def index_names(engine: Engine) -> set[str]:
    """Every index name in the database, expression indexes included."""
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index'"
        if engine.dialect.name == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
    )
    with engine.connect() as connection:
        return set(connection.execute(text(query)).scalars())


def test_models_and_migrated_schema_agree(database_url: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        command.check(alembic_config(database_url))

    engine = make_engine(database_url)
    declared = {
        index.name for table in Base.metadata.tables.values() for index in table.indexes
    }
    assert declared >= EXPRESSION_INDEXES
    assert declared <= index_names(engine)
    engine.dispose()


def test_existing_rows_survive_upgrade_and_downgrade(fresh_url: str) -> None:
    upgrade(fresh_url, "0001")
    engine = make_engine(fresh_url)
    now = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO clients (name, scopes, created) "
                "VALUES ('hris', '[\"scim:read\"]', :now)"
            ),
            {"now": now},
        )

    upgrade(fresh_url, "heads")
    with engine.connect() as connection:
        settings = connection.execute(
            text("SELECT profile, deprovision, jwt_issuer FROM clients")
        ).one()
    command.downgrade(alembic_config(fresh_url), "0001")
    columns = {c["name"] for c in inspect(engine).get_columns("clients")}
    resource_columns = {
        c["name"] for c in inspect(engine).get_columns("scim_resources")
    }
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM clients")).scalars().all()

    assert tuple(settings) == ("standard", "hard", None)
    assert not columns & NEW_CLIENT_COLUMNS
    assert "deprovisioned" not in resource_columns
    assert names == ["hris"]
    assert index_names(engine) >= EXPRESSION_INDEXES
    engine.dispose()
