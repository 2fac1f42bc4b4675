"""``scimserver report``: the programme report as JSON."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from scimserver.db import get_database
from scimserver.events.report import Period, programme_report
from scimserver.events.rules import current_rules
from scimserver.models import Resource

logger = logging.getLogger(__name__)


@click.command("report")
@click.option("--since", help="First day or moment counted (ISO 8601).")
@click.option("--until", help="First day or moment no longer counted (ISO 8601).")
@click.option("--cohort", help="A Group (id or displayName) compared with the rest.")
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    help="Suppress counts below this (default: SCIMSERVER_REPORT_MIN_COUNT).",
)
@with_appcontext
def report(
    since: str | None, until: str | None, cohort: str | None, min_count: int | None
) -> None:
    """Training completion per module and the referral funnel, small counts hidden."""
    period = Period(_moment(since, "--since"), _moment(until, "--until"))
    minimum = min_count or current_app.config["SETTINGS"].report_min_count
    with get_database().sessions() as session:
        group_id = _group_id(session, cohort) if cohort else None
        body = programme_report(session, current_rules(), period, minimum, group_id)
    click.echo(json.dumps(body, indent=2))


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            "use an ISO 8601 date or date-time", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _group_id(session: Session, name: str) -> str:
    query = select(Resource.id).where(
        Resource.resource_type == "Group",
        or_(Resource.id == name, Resource.display_name == name),
    )
    found = list(session.scalars(query.limit(2)))
    if len(found) != 1:
        raise click.BadParameter(
            "no Group (or more than one) has this id or displayName",
            param_hint="--cohort",
        )
    return found[0]
