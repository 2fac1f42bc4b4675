"""``scimserver quarantine`` and ``scimserver referrals follow-up``.

``quarantine`` holds the learning events the hub could not accept:
``list`` shows the newest refused statements and why; ``show ID`` prints one as
it was sent; ``delete ID`` removes it once the LMS has sent a corrected one.
Every deletion is audited.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from scimserver.audit.events import audit
from scimserver.db import get_database
from scimserver.events.follow_up import queue_follow_ups
from scimserver.events.models import QuarantinedStatement
from scimserver.events.rules import current_rules

logger = logging.getLogger(__name__)


@click.group()
def quarantine() -> None:
    """Learning events refused as malformed or naming an unknown employee."""


@quarantine.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@with_appcontext
def quarantine_list(limit: int) -> None:
    """The newest quarantined statements: id, client, when, statement id, error."""
    query = (
        select(QuarantinedStatement)
        .order_by(QuarantinedStatement.id.desc())
        .limit(limit)
    )
    with get_database(current_app).sessions() as session:
        for row in session.scalars(query):
            click.echo(
                f"{row.id:>8}  {row.client:<16} "
                f"{row.received.isoformat(timespec='seconds')}  "
                f"{row.statement_id or '-':<36}  {row.error}"
            )


@quarantine.command("show")
@click.argument("quarantine_id", type=int)
@with_appcontext
def quarantine_show(quarantine_id: int) -> None:
    """Print one quarantined statement, as the LMS sent it, with its error."""
    with get_database(current_app).sessions() as session:
        row = _find(session.get(QuarantinedStatement, quarantine_id))
        body = {
            "id": row.id,
            "client": row.client,
            "received": row.received.isoformat(),
            "error": row.error,
            "statement": row.body,
        }
    click.echo(json.dumps(body, indent=2))


@quarantine.command("delete")
@click.argument("quarantine_id", type=int)
@with_appcontext
def quarantine_delete(quarantine_id: int) -> None:
    """Remove one quarantined statement (audited)."""
    with get_database(current_app).sessions() as session:
        row = _find(session.get(QuarantinedStatement, quarantine_id))
        session.delete(row)
        audit(
            "learning_event.quarantine_deleted",
            resource_type="LearningEvent",
            resource_id=str(quarantine_id),
            detail={"client": row.client},
            session=session,
            actor="cli",
        )
        session.commit()
    click.echo(f"quarantined statement {quarantine_id} deleted", err=True)


def _find(row: QuarantinedStatement | None) -> QuarantinedStatement:
    if row is None:
        raise click.ClickException("no quarantined statement with that id")
    return row


@click.group()
def referrals() -> None:
    """EAP referrals."""


@referrals.command("follow-up")
@with_appcontext
def referrals_follow_up() -> None:
    """Queue a follow-up for each referral with no contact in time (run from cron)."""
    if current_rules().follow_up is None:
        raise click.ClickException("the referral rules file declares no [follow_up]")
    with get_database(current_app).sessions() as session:
        queued = queue_follow_ups(session, current_rules(), datetime.now(UTC))
        session.commit()
    click.echo(f"{queued} follow-ups queued", err=True)
