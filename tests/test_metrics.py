"""GET /metrics: request counters and the outbox and referral figures."""

from __future__ import annotations

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_token
from tests.connectors.outbox_support import hris, make_hub
from tests.events.support import (
    consent_admin,
    eap,
    grant,
    hub,
    lms,
    new_employee,
    xapi_completion,
)

__all__ = ["eap", "hub", "make_hub"]


def test_metrics_count_requests_backlog_and_referrals(hub: Flask) -> None:
    scim = hris(hub)
    user_id = new_employee(scim, "bjensen")
    grant(consent_admin(hub), user_id)
    lms(hub).post("/learning-events", xapi_completion("bjensen"))
    scim.get(f"/Users/{user_id}")
    scim.get("/Users/no-such-id")

    samples = _scrape(hub)

    requests = samples["scimserver_http_requests_total"]
    assert requests[("/scim/v2/Users", "POST", "201")] == 1
    assert requests[("/api/v1/learning-events", "POST", "200")] == 1
    assert requests[("/scim/v2/Users/<resource_id>", "GET", "200")] == 1
    # A 404 keeps the rule's placeholder: made-up paths add no label values.
    assert requests[("/scim/v2/<collection>/<resource_id>", "GET", "404")] == 1
    assert not any(user_id in "".join(labels) for labels in requests)
    assert samples["scimserver_outbox_events"] == {("eap", "pending"): 1}
    assert samples["scimserver_referrals"] == {("created",): 1}
    [age] = samples["scimserver_outbox_oldest_pending_age_seconds"].values()
    assert age >= 0


def test_metrics_need_the_metrics_scope(hub: Flask) -> None:
    web = hub.test_client()
    token = make_token(hub, "reader", ["scim:read"])

    anonymous = web.get("/metrics")
    refused = web.get("/metrics", headers={"Authorization": f"Bearer {token}"})

    assert anonymous.status_code == 401
    assert refused.status_code == 403


def _scrape(app: Flask) -> dict[str, dict[tuple[str, ...], float]]:
    token = make_token(app, "prometheus", ["metrics:read"])
    response = app.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = tuple(sample.labels.values())
            found.setdefault(sample.name, {})[labels] = sample.value
    return found
