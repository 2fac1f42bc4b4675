"""Follow-ups: a referral sent long ago with no contact reported yet.

``scimserver referrals follow-up`` (run it from cron, e.g. hourly) queues one
follow-up per referral that was sent more than the rules file's
``follow_up.after_hours`` ago, has not reached ``contact_made``, was not
declined or expired, and whose consent is still in effect. The
``referral_follow_up`` connector delivers it through the outbox as a signed
CloudEvent (type ``org.scimserver.referral.follow_up``) that an e-mail or
nudging system can act on::

    {"specversion": "1.0", "id": "follow_up_<referral id>", ...,
     "data": {"referralId": "...", "subject": "pid-...", "moduleId": "...",
              "sentAt": "...", "resource": {... as its release policy allows}}}

``resource`` is the employee as the connector's release policy releases them
(for example the work e-mail address to write to), or null.

Options: ``url``, ``secret_env`` (Standard Webhooks secrets), ``timeout``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.connectors.base import DeliveryOutcome, OutboundEvent
from scimserver.connectors.config import (
    SHARED_KEYS,
    ConnectorsFileError,
    current_catalog,
)
from scimserver.connectors.http_outcome import outcome_of_error, outcome_of_response
from scimserver.connectors.outbox import queue
from scimserver.connectors.webhook import WebhookConnector
from scimserver.db import get_database
from scimserver.events import lifecycle
from scimserver.events.eap_connector import read_secrets
from scimserver.events.models import Referral
from scimserver.events.referrals import consent_still_in_effect
from scimserver.events.rules import RuleSet

logger = logging.getLogger(__name__)

OWN_KEYS = frozenset({"url", "secret_env", "timeout"})
WAITING = (lifecycle.SENT, lifecycle.ACKNOWLEDGED)
EVENT_TYPE = "org.scimserver.referral.follow_up"


def queue_follow_ups(session: Session, rules: RuleSet, now: datetime) -> int:
    """Queue the follow-ups that are due; return how many."""
    follow_up = rules.follow_up
    if follow_up is None:
        return 0
    config = current_catalog().get(follow_up.connector)
    if config is None:
        return 0

    due = now - timedelta(hours=follow_up.after_hours)
    query = select(Referral).where(
        Referral.state.in_(WAITING),
        Referral.sent_at <= due,
        Referral.follow_up_at.is_(None),
    )
    queued = 0
    for referral in session.scalars(query.with_for_update()):
        if not consent_still_in_effect(session, referral.consent_token, now):
            continue
        referral.follow_up_at = now
        detail = {"referral": referral.id, "follow_up": "no_contact"}
        queue(session, config, "updated", "User", referral.user_id, detail, now)
        _audit(session, referral)
        queued += 1
    return queued


class FollowUpConnector:
    """POSTs follow-up CloudEvents, signed per Standard Webhooks."""

    def __init__(
        self, name: str, url: str, signer: WebhookConnector, timeout: float
    ) -> None:
        self.name = name
        self.url = url
        self._signer = signer
        self._client = httpx.Client(timeout=timeout)

    @classmethod
    def from_options(
        cls, name: str, options: Mapping[str, Any], source: str
    ) -> FollowUpConnector:
        """Build from the connector's table; secrets come from the environment."""
        where = f"connector {name!r}"
        unknown = sorted(set(options) - OWN_KEYS - SHARED_KEYS)
        if unknown:
            raise ConnectorsFileError(f"{where}: unknown keys {', '.join(unknown)}")
        url = options.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConnectorsFileError(f"{where}: url must be an http(s) URL")
        secrets = read_secrets(options.get("secret_env"), "secret_env", where)
        timeout = float(options.get("timeout", 10.0))
        signer = WebhookConnector(name, url, secrets, timeout=timeout, source=source)
        return cls(name, url, signer, timeout)

    def deliver(self, event: OutboundEvent) -> DeliveryOutcome:
        """Send the follow-up unless contact was made or the referral closed."""
        referral_id = event.detail.get("referral")
        with get_database().sessions() as session:
            referral = session.get(Referral, str(referral_id))
            if referral is None:
                return DeliveryOutcome(
                    "rejected", error="the referral no longer exists"
                )
            if referral.state not in WAITING:
                # Nothing is sent: contact was made (or the referral closed) since.
                return DeliveryOutcome("delivered", error="follow-up no longer needed")
            body = json.dumps(self.cloud_event(event, referral), separators=(",", ":"))

        message_id = f"follow_up_{referral_id}"
        headers = self._signer.headers(message_id, body)
        try:
            response = self._client.post(
                self.url, content=body.encode(), headers=headers
            )
        except httpx.HTTPError as error:
            return outcome_of_error(error)
        return outcome_of_response(response)

    def cloud_event(self, event: OutboundEvent, referral: Referral) -> dict[str, Any]:
        """The CloudEvents 1.0 envelope of a follow-up."""
        sent = referral.sent_at or referral.updated
        return {
            "specversion": "1.0",
            "id": f"follow_up_{referral.id}",
            "source": self._signer.source,
            "type": EVENT_TYPE,
            "subject": event.subject,
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": {
                "referralId": referral.id,
                "subject": event.subject,
                "moduleId": referral.module_id,
                "sentAt": sent.isoformat().replace("+00:00", "Z"),
                "resource": event.payload or None,
            },
        }


def _audit(session: Session, referral: Referral) -> None:
    audit(
        "referral.follow_up_queued",
        resource_type="Referral",
        resource_id=referral.id,
        detail={"user_id": referral.user_id, "connector": referral.connector},
        session=session,
        actor="system",
    )
