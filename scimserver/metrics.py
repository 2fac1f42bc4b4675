"""Prometheus metrics at ``/metrics`` (text exposition format 0.0.4).

Two kinds of figures:

- **of this process**: requests by endpoint, method and status, and their
  latency, counted as each response leaves;
- **of the database**, read at scrape time with ``GROUP BY`` queries, so every
  process reports the same: the outbox backlog and the age of its oldest due
  event by connector and status, deliveries by connector and outcome, and
  referrals by state.

The endpoint label is the URL rule (``/scim/v2/Users/<resource_id>``), never
the path, so that ids do not reach the metrics. Scraping needs a client token
with the ``metrics:read`` scope: referral counts are about employees.

Under gunicorn the request figures are those of the whole server: every worker
writes its counts to a shared folder and a scrape sums them
(:mod:`scimserver.shared_metrics`). Run without one, a process reports its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from scimserver import shared_metrics
from scimserver.connectors.models import DeliveryAttempt, OutboxEvent
from scimserver.db import get_database
from scimserver.events.models import Referral
from scimserver.policy.auth import authenticate_request, require_scope

logger = logging.getLogger(__name__)

blueprint = Blueprint("metrics", __name__)
EXTENSION_KEY = "scimserver.metrics"
SCOPE = "metrics:read"
BACKLOG = ("pending", "delivering", "dead")


class RequestMetrics:
    """The request counters of one application, and the registry that shows them.

    When the workers share their counts, the counters only write them; the
    registry then reads every worker's from the shared folder instead.
    """

    def __init__(self, registry: CollectorRegistry, shared: bool = False) -> None:
        self.registry = registry
        own = CollectorRegistry() if shared else registry
        self.requests = Counter(
            "scimserver_http_requests",
            "HTTP requests answered, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "scimserver_http_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint.",
            ["endpoint"],
            registry=own,
        )


class DatabaseCollector(Collector):
    """Outbox, delivery and referral figures, read when Prometheus scrapes."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges of the database, one query each."""
        with get_database(self.app).sessions() as session:
            backlog = session.execute(
                select(OutboxEvent.connector, OutboxEvent.status, func.count())
                .where(OutboxEvent.status.in_(BACKLOG))
                .group_by(OutboxEvent.connector, OutboxEvent.status)
            ).all()
            oldest = session.execute(
                select(OutboxEvent.connector, func.min(OutboxEvent.created))
                .where(OutboxEvent.status == "pending")
                .group_by(OutboxEvent.connector)
            ).all()
            attempts = session.execute(
                select(OutboxEvent.connector, DeliveryAttempt.status, func.count())
                .join(OutboxEvent, OutboxEvent.id == DeliveryAttempt.event_id)
                .group_by(OutboxEvent.connector, DeliveryAttempt.status)
            ).all()
            states = session.execute(
                select(Referral.state, func.count()).group_by(Referral.state)
            ).all()

        yield _gauge(
            "scimserver_outbox_events",
            "Outbox events not yet delivered, by connector and status.",
            ["connector", "status"],
            [((c, s), n) for c, s, n in backlog],
        )
        now = datetime.now(UTC)
        yield _gauge(
            "scimserver_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox event, by connector.",
            ["connector"],
            [((c,), _age(now, t)) for c, t in oldest],
        )
        yield _gauge(
            "scimserver_outbox_delivery_attempts",
            "Delivery attempts recorded, by connector and outcome.",
            ["connector", "outcome"],
            [((c, s), n) for c, s, n in attempts],
        )
        yield _gauge(
            "scimserver_referrals",
            "EAP referrals by state.",
            ["state"],
            [((s,), n) for s, n in states],
        )


def init_app(app: Flask) -> None:
    """Count every request and serve ``/metrics``."""
    registry = CollectorRegistry()
    shared = shared_metrics.shared()
    if shared:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    app.extensions[EXTENSION_KEY] = RequestMetrics(registry, shared)
    registry.register(DatabaseCollector(app))
    app.before_request(_start_timer)
    app.after_request(_count)
    app.register_blueprint(blueprint)


@blueprint.get("/metrics")
def metrics() -> Response:
    """The Prometheus exposition of this application."""
    authenticate_request()
    require_scope(SCOPE)
    found: RequestMetrics = current_app.extensions[EXTENSION_KEY]
    return Response(generate_latest(found.registry), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    found: RequestMetrics = current_app.extensions[EXTENSION_KEY]
    endpoint = _endpoint_label(response.status_code)
    started = g.get("metrics_started", time.perf_counter())
    found.requests.labels(endpoint, request.method, str(response.status_code)).inc()
    found.latency.labels(endpoint).observe(time.perf_counter() - started)
    return response


def _endpoint_label(status: int) -> str:
    """The URL rule, with a SCIM collection filled in once it proved to exist.

    An unknown collection (a 404) keeps ``<collection>``, so that made-up paths
    cannot create label values without end.
    """
    if request.url_rule is None:
        return "unmatched"
    rule = request.url_rule.rule
    collection = (request.view_args or {}).get("collection")
    if isinstance(collection, str) and status != 404:
        rule = rule.replace("<collection>", collection)
    return rule


def _gauge(
    name: str,
    documentation: str,
    labels: list[str],
    samples: list[tuple[tuple[str, ...], float]],
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def _age(now: datetime, moment: datetime | None) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())
