"""``scimserver consents refresh``: mark expired consents in the Users' copies."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from scimserver.consent.mirror import refresh_expired
from scimserver.db import get_database


@click.group()
def consents() -> None:
    """Employee consents as the SCIM Users show them."""


@consents.command("refresh")
@with_appcontext
def consents_refresh() -> None:
    """Rewrite the consent copies of Users whose consents expired (run by cron).

    Releases never wait for this: the release policy reads the consent register
    itself. It keeps the ``status`` shown in each User's consent extension true.
    """
    with get_database(current_app).sessions() as session:
        changed = refresh_expired(session, datetime.now(UTC))
        session.commit()
    click.echo(f"consents: {changed} Users updated", err=True)
