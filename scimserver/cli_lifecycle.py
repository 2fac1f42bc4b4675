"""``scimserver lifecycle apply``: apply the HR effective dates that have arrived."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from scimserver.scim.api import registry
from scimserver.scim.lifecycle import apply_lifecycle_in
from scimserver.scim.value_index import parse_datetime


@click.group()
def lifecycle() -> None:
    """HR lifecycle: start and end dates of Users."""


@lifecycle.command("apply")
@click.option(
    "--now",
    "now_text",
    metavar="DATETIME",
    help="Apply as of this xsd:dateTime (default: the current time).",
)
@with_appcontext
def lifecycle_apply(now_text: str | None) -> None:
    """Activate Users whose start date arrived; deactivate those whose end did."""
    now = datetime.now(UTC)
    if now_text is not None:
        parsed = parse_datetime(now_text)
        if parsed is None:
            raise click.BadParameter(
                f"not a dateTime: {now_text!r}", param_hint="--now"
            )
        now = parsed

    changes = apply_lifecycle_in(current_app, registry(), now)
    for resource_id in changes.activated:
        click.echo(f"activated {resource_id}")
    for resource_id in changes.deactivated:
        click.echo(f"deactivated {resource_id}")
    click.echo(
        f"lifecycle: {len(changes.activated)} activated, "
        f"{len(changes.deactivated)} deactivated",
        err=True,
    )
