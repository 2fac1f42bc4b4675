"""The delivery worker: claims due outbox rows, delivers them, records each try.

For each claimed row, in id order: build the payload as the connector may see
it now (:mod:`scimserver.connectors.payloads`), hand it to the connector, then
record the attempt (status, HTTP status, latency, error), audit it, and move the
row on: ``delivered``; ``pending`` again after a backoff
(:mod:`scimserver.connectors.backoff`) or the receiver's ``Retry-After``;
``dead`` once the connector's ``max_attempts`` are spent or the receiver
refused it for good; ``cancelled`` when the consent it needed has ended.

No database transaction stays open while a receiver is called. A claim is
leased for the ``outbox_lease_seconds`` setting, renewed as each row's delivery
starts, and outlasts the longest request a connector may make; so a row is
delivered twice only when its worker died after sending it and before recording
it, and receivers drop that repeat by the idempotency key.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.connectors.backoff import retry_delay
from scimserver.connectors.base import DeliveryOutcome
from scimserver.connectors.claims import (
    Claim,
    Result,
    claim_due,
    record_result,
    renew,
)
from scimserver.connectors.config import (
    EXTENSION_KEY,
    ConnectorCatalog,
    ConnectorConfig,
)
from scimserver.connectors.consent_sweep import SWEEP_SECONDS, sweep_ended_consents
from scimserver.connectors.models import (
    CANCELLED,
    DEAD,
    DELIVERED,
    PENDING,
    OutboxEvent,
)
from scimserver.connectors.outbox import queue_departure
from scimserver.connectors.payloads import ConsentGone, build_event
from scimserver.db import get_database
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.schema import SchemaRegistry

logger = logging.getLogger(__name__)

BATCH_SIZE = 20
#: Rows of a batch delivered at once (each with its own database connection).
CONCURRENCY = 4
WORKER_ACTOR = "worker"


class DeliveryWorker:
    """Delivers the outbox of one application, batch by batch."""

    def __init__(
        self, app: Flask, batch_size: int = BATCH_SIZE, concurrency: int = CONCURRENCY
    ) -> None:
        self.app = app
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.catalog: ConnectorCatalog = app.extensions[EXTENSION_KEY]
        self.registry: SchemaRegistry = app.extensions[REGISTRY_KEY]
        self.base_url: str = app.config["SETTINGS"].base_url
        self.lease = timedelta(seconds=app.config["SETTINGS"].outbox_lease_seconds)

    def run_once(self) -> int:
        """Claim one batch of due rows and deliver it; return how many were tried.

        A batch never holds two rows of one connector and resource, so its rows
        are delivered ``concurrency`` at a time without breaking their order.
        """
        database = get_database(self.app)
        with self.app.app_context(), database.sessions() as session:
            claims = claim_due(session, _now(), self.batch_size, self.lease)
        if self.concurrency > 1 and len(claims) > 1:
            with ThreadPoolExecutor(self.concurrency) as pool:
                list(pool.map(self.deliver, claims))
        else:
            for claim in claims:
                self.deliver(claim)
        return len(claims)

    def drain(self) -> int:
        """Deliver until nothing is due; return how many tries were made."""
        total = 0
        while tried := self.run_once():
            total += tried
        return total

    def run_forever(
        self,
        stop: threading.Event,
        poll_seconds: float = 1.0,
        heartbeat: Path | None = None,
    ) -> None:
        """Deliver until ``stop`` is set, polling when the outbox is idle.

        Every :data:`SWEEP_SECONDS` it also queues the removal of Users whose
        consent ended (:mod:`scimserver.connectors.consent_sweep`). After every
        pass it touches ``heartbeat``, if given (see :func:`beat`).
        """
        logger.info(
            "delivery worker started connectors=%s", sorted(self.catalog.configs)
        )
        next_sweep = 0.0
        while not stop.is_set():
            beat(heartbeat)
            try:
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                tried = self.run_once()
            except Exception:
                logger.exception("delivery worker pass failed; retrying")
                tried = 0
            if not tried:
                stop.wait(poll_seconds)
        logger.info("delivery worker stopped")

    def sweep(self) -> int:
        """Queue the removal of Users whose consent ended; return how many."""
        database = get_database(self.app)
        with self.app.app_context(), database.sessions() as session:
            departed = sweep_ended_consents(session, _now())
            session.commit()
        return departed

    def deliver(self, claim: Claim) -> None:
        """Deliver one claimed row and record the attempt, in an app context."""
        database = get_database(self.app)
        with self.app.app_context(), database.sessions() as session:
            if not renew(session, claim, _now(), self.lease):
                logger.info("claim lost before delivery event=%s", claim.event_id)
                return
            row = session.get(OutboxEvent, claim.event_id)
            if row is None:
                return
            config = self.catalog.get(row.connector)
            if config is None:
                result = _failed(f"no connector named {row.connector} is configured")
            else:
                result = self._attempt(session, row, config)
            session.commit()  # End the read transaction of the payload.

            record_result(session, claim, result, _now())
            _audit_attempt(session, row, claim, result)
            session.commit()
        logger.info(
            "delivery connector=%s event=%s attempt=%s outcome=%s status=%s",
            row.connector,
            claim.event_id,
            claim.attempt,
            result.outcome,
            result.status,
        )

    def _attempt(
        self, session: Session, row: OutboxEvent, config: ConnectorConfig
    ) -> Result:
        """Build the event, call the connector, and judge its answer.

        A failure of our own (a database error while building the payload, a
        connector that raises) counts as an attempt to retry, so that it too
        ends in the dead letters after ``max_attempts``.
        """
        try:
            event = build_event(
                session, row, config, self.registry, self.base_url, _now()
            )
        except ConsentGone:
            queue_departure(session, config, row.resource_id, _now())
            return Result("cancelled", CANCELLED, None, None, 0, "consent has ended")
        except Exception as error:
            session.rollback()
            return _judge(config, row.attempts, _internal_error(config, error), 0)
        session.commit()

        started = time.perf_counter()
        try:
            outcome = self.catalog.sender(config.name).deliver(event)
        except Exception as error:
            outcome = _internal_error(config, error)
        latency = int((time.perf_counter() - started) * 1000)
        return _judge(config, row.attempts, outcome, latency)


def _judge(
    config: ConnectorConfig, attempt: int, outcome: DeliveryOutcome, latency_ms: int
) -> Result:
    """The row's next state after ``outcome`` of try number ``attempt``."""
    if outcome.status == "delivered":
        status, due = DELIVERED, None
    elif outcome.status == "rejected" or attempt >= config.retry.max_attempts:
        status, due = DEAD, None
    else:
        wait = retry_delay(config.retry, attempt, outcome.retry_after)
        status, due = PENDING, _now() + timedelta(seconds=wait)
    return Result(
        outcome.status, status, due, outcome.http_status, latency_ms, outcome.error
    )


def _internal_error(config: ConnectorConfig, error: Exception) -> DeliveryOutcome:
    """Log our own failure with its traceback; record only its kind."""
    logger.error(
        "delivery failed inside the hub connector=%s",
        config.name,
        exc_info=error,
    )
    return DeliveryOutcome("retry", error=f"internal error ({type(error).__name__})")


def _failed(error: str) -> Result:
    return Result("failed", DEAD, None, None, 0, error)


def _audit_attempt(
    session: Session, row: OutboxEvent, claim: Claim, result: Result
) -> None:
    """Audit one attempt: which event went where, and how it ended; no payload."""
    audit(
        "outbox.delivery",
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        detail={
            "connector": row.connector,
            "event_id": claim.event_id,
            "event_type": row.event_type,
            "attempt": claim.attempt,
            "outcome": result.outcome,
            "status": result.status,
            "http_status": result.http_status,
        },
        session=session,
        actor=WORKER_ACTOR,
    )


class EmbeddedWorkers:
    """Delivery threads inside a server process (the ``embedded_workers`` setting).

    A first run needs no separate ``scimserver worker``; the threads are daemons,
    so they never hold the server up at exit.
    """

    def __init__(self, app: Flask, count: int, poll_seconds: float = 1.0) -> None:
        self._stop = threading.Event()
        self.threads = [
            threading.Thread(
                target=DeliveryWorker(app).run_forever,
                args=(self._stop, poll_seconds),
                name=f"delivery-worker-{number}",
                daemon=True,
            )
            for number in range(count)
        ]

    def start(self) -> None:
        """Start every thread."""
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the threads to finish their batch and wait for them."""
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout)


def start_embedded_workers(
    app: Flask, poll_seconds: float = 1.0
) -> EmbeddedWorkers | None:
    """Start the delivery threads the settings ask for; None when there are none."""
    count = app.config["SETTINGS"].embedded_workers
    if count <= 0 or not app.extensions[EXTENSION_KEY]:
        return None
    workers = EmbeddedWorkers(app, count, poll_seconds)
    workers.start()
    logger.info("embedded delivery workers started count=%d", count)
    return workers


def beat(heartbeat: Path | None) -> None:
    """Touch the heartbeat file: its age tells a liveness probe the worker is stuck.

    A file that cannot be written is reported and delivery goes on.
    """
    if heartbeat is None:
        return
    try:
        heartbeat.touch()
    except OSError as error:
        logger.warning(
            "heartbeat not written file=%s error=%s", heartbeat, error.strerror
        )


def _now() -> datetime:
    return datetime.now(UTC)
