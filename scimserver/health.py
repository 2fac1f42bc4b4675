"""Liveness and readiness probes: ``/healthz`` and ``/readyz``, outside ``/scim/v2``.

Both answer JSON without authentication, so that a load balancer, a container
runtime or Kubernetes can call them. Neither reveals anything about the data.
"""

from __future__ import annotations

import enum
import logging

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from scimserver.db import get_database
from scimserver.schema_migrations import alembic_config

logger = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)
HEADS_KEY = "scimserver.migration_heads"
SCRIPTS_KEY = "scimserver.migration_scripts"
NO_STORE = {"Cache-Control": "no-store"}


class MigrationState(enum.StrEnum):
    """How the database's schema revision compares with this release's."""

    CURRENT = "current"
    #: Migrations of this release are not applied yet: the server cannot run.
    BEHIND = "behind"
    #: A newer release migrated the database (a rolling upgrade is under way).
    AHEAD = "ahead"


def init_app(app: Flask) -> None:
    """Read the migration scripts once and register the probe endpoints."""
    scripts = ScriptDirectory.from_config(
        alembic_config(app.config["SETTINGS"].database_url)
    )
    app.extensions[SCRIPTS_KEY] = scripts
    app.extensions[HEADS_KEY] = frozenset(scripts.get_heads())
    app.register_blueprint(blueprint)


@blueprint.get("/healthz")
def healthz() -> Response:
    """Liveness: the process serves requests; the database is not consulted."""
    return _probe_response({"status": "ok"}, 200)


@blueprint.get("/readyz")
def readyz() -> Response:
    """Readiness: the database answers and its schema fits this release."""
    try:
        with get_database().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            state = migration_state(connection)
    except SQLAlchemyError as error:
        logger.warning("readiness: database unreachable (%s)", type(error).__name__)
        body = {"status": "unavailable", "database": "unreachable"}
        return _probe_response(body, 503)

    ready = state is not MigrationState.BEHIND
    body = {
        "status": "ready" if ready else "unavailable",
        "database": "ok",
        "migrations": state.value,
    }
    return _probe_response(body, 200 if ready else 503)


def migration_state(connection: Connection) -> MigrationState:
    """Compare the revision recorded in the database with this release's heads.

    A revision this release does not know was written by a newer release; old
    workers keep serving during a rolling upgrade, as migrations only add.
    """
    heads: frozenset[str] = current_app.extensions[HEADS_KEY]
    scripts: ScriptDirectory = current_app.extensions[SCRIPTS_KEY]
    current = set(MigrationContext.configure(connection).get_current_heads())

    if current == heads:
        return MigrationState.CURRENT
    if current and not all(_known(scripts, revision) for revision in current):
        return MigrationState.AHEAD
    return MigrationState.BEHIND


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


def _probe_response(body: dict[str, str], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(NO_STORE)
    return response
