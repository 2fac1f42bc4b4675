"""``scimserver worker`` and ``scimserver outbox``: delivery and its operators' view."""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from scimserver.connectors import operations
from scimserver.connectors.config import current_catalog
from scimserver.connectors.consent_sweep import sweep_ended_consents
from scimserver.connectors.models import STATUSES
from scimserver.connectors.worker import (
    BATCH_SIZE,
    CONCURRENCY,
    DeliveryWorker,
    beat,
)
from scimserver.db import get_database

logger = logging.getLogger(__name__)

NO_CONNECTORS = "no connectors are configured: set SCIMSERVER_CONNECTORS_FILE"


@click.command("worker")
@click.option(
    "--once",
    is_flag=True,
    help="Sweep ended consents and deliver what is due now, then exit.",
)
@click.option("--batch", default=BATCH_SIZE, show_default=True, type=click.IntRange(1))
@click.option(
    "--concurrency",
    default=CONCURRENCY,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Events of a batch delivered at once.",
)
@click.option(
    "--poll",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.05),
    help="Seconds to wait when nothing is due.",
)
@click.option(
    "--heartbeat",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Touch this file after every pass, for a liveness probe.",
)
@with_appcontext
def worker(
    once: bool, batch: int, concurrency: int, poll: float, heartbeat: Path | None
) -> None:
    """Deliver outbox events to the connectors until stopped (SIGTERM, Ctrl-C).

    Run one per machine or more; on PostgreSQL they share the work without
    delivering an event twice. On SQLite run one. Without connectors there is
    nothing to deliver: ``--once`` fails, and a running worker waits to be
    stopped (a deployment starts one before any connector is declared).
    """
    configured = bool(current_catalog())
    if once and not configured:
        raise click.ClickException(NO_CONNECTORS)
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    delivery = DeliveryWorker(app, batch, concurrency)
    if once:
        departed = delivery.sweep()
        click.echo(f"{departed} consent departures queued", err=True)
        click.echo(f"{delivery.drain()} deliveries attempted", err=True)
        return

    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if configured:
        delivery.run_forever(stop, poll, heartbeat)
        return
    logger.warning("delivery worker idle: %s", NO_CONNECTORS)
    beat(heartbeat)
    while not stop.wait(poll):
        beat(heartbeat)


@click.group()
def outbox() -> None:
    """The outbox of outbound events: backlog, dead letters, replay, purge."""


@outbox.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--connector")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@with_appcontext
def outbox_list(status: str | None, connector: str | None, limit: int) -> None:
    """List the oldest events (filtered), then the count per connector and status."""
    with get_database(current_app).sessions() as session:
        rows = operations.list_events(
            session, status=status, connector=connector, limit=limit
        )
        totals = operations.counts(session)
    for row in rows:
        when = row.finished or row.next_attempt_at
        click.echo(
            f"{row.id:>8}  {row.connector:<16} {row.status:<10} "
            f"{row.attempts:>3}  {row.resource_type:<6} {row.resource_id:<36} "
            f"{row.event_type:<17} {when.isoformat(timespec='seconds')}"
        )
    for (name, state), count in sorted(totals.items()):
        click.echo(f"{name}: {state}={count}", err=True)


@outbox.command("show")
@click.argument("event_id", type=int)
@with_appcontext
def outbox_show(event_id: int) -> None:
    """Print one event and every delivery attempt as JSON."""
    with get_database(current_app).sessions() as session:
        try:
            described = operations.describe(session, event_id)
        except operations.OutboxError as error:
            raise click.ClickException(str(error)) from None
    click.echo(json.dumps(described, indent=2))


@outbox.command("replay")
@click.argument("event_id", type=int, required=False)
@click.option("--connector", help="Replay every dead letter of this connector.")
@with_appcontext
def outbox_replay(event_id: int | None, connector: str | None) -> None:
    """Queue EVENT_ID again, or every dead letter of --connector."""
    if (event_id is None) == (connector is None):
        raise click.UsageError("give an EVENT_ID or --connector, not both")
    now = datetime.now(UTC)
    with get_database(current_app).sessions() as session:
        try:
            if event_id is not None:
                operations.replay_event(session, event_id, now)
                count = 1
            else:
                count = operations.replay_dead(session, str(connector), now)
        except operations.OutboxError as error:
            raise click.ClickException(str(error)) from None
        session.commit()
    click.echo(f"{count} events queued again", err=True)


@outbox.command("sweep")
@with_appcontext
def outbox_sweep() -> None:
    """Queue the removal of Users whose consent ended, for connectors that need it.

    Workers do this every minute; run it from cron where no worker runs.
    """
    with get_database(current_app).sessions() as session:
        departed = sweep_ended_consents(session, datetime.now(UTC))
        session.commit()
    click.echo(f"{departed} consent departures queued", err=True)


@outbox.command("purge")
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.IntRange(0),
    help="Days since the event was delivered or cancelled.",
)
@with_appcontext
def outbox_purge(days: int) -> None:
    """Delete delivered and cancelled events (and their attempts) older than N days."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with get_database(current_app).sessions() as session:
        purged = operations.purge(session, cutoff)
        session.commit()
    click.echo(f"{purged} events purged", err=True)
