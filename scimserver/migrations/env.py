"""Alembic environment: migrates the database named by the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from scimserver.audit import models as audit_models  # noqa: F401 (registers tables)
from scimserver.connectors import models as outbox_models  # noqa: F401 (registers)
from scimserver.connectors import push_models  # noqa: F401 (registers tables)
from scimserver.consent import models as consent_models  # noqa: F401 (registers)
from scimserver.db import make_engine
from scimserver.events import models as event_models  # noqa: F401 (registers)
from scimserver.migrations.postgres_only import include_name
from scimserver.models import Base
from scimserver.policy import models as policy_models  # noqa: F401 (registers)
from scimserver.sso import models as sso_models  # noqa: F401 (registers)
from scimserver.sso.provider import models as op_models  # noqa: F401 (registers)

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on ``connection`` in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Use the caller's connection when given, else connect to the configured URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        run_migrations(connection)
    engine.dispose()


run()
