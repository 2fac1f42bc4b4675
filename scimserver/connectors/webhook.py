"""The ``webhook`` connector: CloudEvents 1.0 JSON, signed per Standard Webhooks.

Each delivery is one POST in the structured content mode of the CloudEvents
HTTP binding (``Content-Type: application/cloudevents+json``, binding §3.1)::

    {"specversion": "1.0", "id": "42", "source": "https://hub.example.com",
     "type": "org.scimserver.user.updated", "subject": "2819c223-...",
     "time": "2026-12-03T18:00:00Z", "datacontenttype": "application/json",
     "data": {"resourceType": "User", "id": "2819c223-...",
              "resource": {...}, "detail": {"attributes": ["title"]}}}

``resource`` is what the connector's release policy releases now, or null when
the resource is gone or no longer the connector's to see.

The Standard Webhooks headers (specification, "Signature scheme"):
``webhook-id`` is the outbox row id, the same on every retry, so the receiver
can drop a repeat (the idempotency key); ``webhook-timestamp`` is the signing
time in Unix seconds; ``webhook-signature`` holds one ``v1,<base64>`` HMAC-SHA256
signature per configured secret, separated by spaces. Listing the new secret
beside the old one while receivers move over is how a secret is rotated.

Options (beside the shared ones of :mod:`scimserver.connectors.config`)::

    url = "https://lms.example.com/hooks/scim"
    secret_env = ["LMS_WEBHOOK_SECRET", "LMS_WEBHOOK_SECRET_PREVIOUS"]
    timeout = 10.0              # seconds per request
    source = "https://hub.example.com"   # CloudEvents source; default base URL
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from scimserver.connectors.base import DeliveryOutcome, OutboundEvent
from scimserver.connectors.config import SHARED_KEYS, ConnectorsFileError
from scimserver.connectors.http_outcome import outcome_of_error, outcome_of_response

logger = logging.getLogger(__name__)

OWN_KEYS = frozenset({"url", "secret_env", "timeout", "source"})
MEDIA_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "org.scimserver"
USER_AGENT = "scimserver-webhook/1"


class WebhookConnector:
    """POSTs signed CloudEvents to one URL."""

    def __init__(
        self,
        name: str,
        url: str,
        secrets: Sequence[str],
        *,
        timeout: float = 10.0,
        source: str = "/scimserver",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not secrets:
            raise ValueError("a webhook needs at least one secret")
        self.name = name
        self.url = url
        self.source = source
        self._signers = [Webhook(secret) for secret in secrets]
        self._client = httpx.Client(
            timeout=timeout, transport=transport, headers={"User-Agent": USER_AGENT}
        )

    @classmethod
    def from_options(
        cls, name: str, options: Mapping[str, Any], *, source: str = "/scimserver"
    ) -> WebhookConnector:
        """Build from the connector's table; secrets are read from the environment."""
        where = f"connector {name!r}"
        unknown = sorted(set(options) - OWN_KEYS - SHARED_KEYS)
        if unknown:
            raise ConnectorsFileError(f"{where}: unknown keys {', '.join(unknown)}")
        url = options.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConnectorsFileError(f"{where}: url must be an http(s) URL")
        timeout = options.get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ConnectorsFileError(f"{where}: timeout must be a number of seconds")
        if not 0 < timeout <= 120:
            raise ConnectorsFileError(f"{where}: timeout must lie in (0, 120] seconds")

        secrets = _secrets(options.get("secret_env"), where)
        return cls(
            name,
            url,
            secrets,
            timeout=float(timeout),
            source=str(options.get("source", source)),
        )

    def deliver(self, event: OutboundEvent) -> DeliveryOutcome:
        """POST the event once; a failure becomes an outcome, never an exception."""
        body = json.dumps(self.cloud_event(event), separators=(",", ":"))
        try:
            response = self._client.post(
                self.url, content=body.encode(), headers=self.headers(event.id, body)
            )
        except httpx.HTTPError as error:
            logger.info(
                "webhook unreachable connector=%s event=%s error=%s",
                self.name,
                event.id,
                type(error).__name__,
            )
            return outcome_of_error(error)
        return outcome_of_response(response)

    def cloud_event(self, event: OutboundEvent) -> dict[str, Any]:
        """The CloudEvents 1.0 envelope of ``event`` (core attributes, spec §3)."""
        subject = event.subject or event.resource_id
        return {
            "specversion": "1.0",
            "id": event.id,
            "source": self.source,
            "type": f"{TYPE_PREFIX}.{event.resource_type.lower()}.{event.event_type}",
            "subject": subject,
            "time": _time_text(event.occurred or datetime.now(UTC)),
            "datacontenttype": "application/json",
            "data": {
                "resourceType": event.resource_type,
                "id": subject,
                "resource": event.payload or None,
                "detail": event.detail,
                "attempt": event.attempt,
            },
        }

    def headers(self, message_id: str, body: str) -> dict[str, str]:
        """The Standard Webhooks headers: id, timestamp and every signature."""
        moment = datetime.now(UTC)
        signatures = [signer.sign(message_id, moment, body) for signer in self._signers]
        return {
            "Content-Type": MEDIA_TYPE,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": " ".join(signatures),
        }

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()


def _secrets(names: Any, where: str) -> list[str]:
    """Read each secret from the environment variable named; never echo a value."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        raise ConnectorsFileError(
            f"{where}: secret_env must name one or more environment variables"
        )
    secrets = []
    for variable in names:
        value = os.environ.get(str(variable), "")
        if not value:
            raise ConnectorsFileError(
                f"{where}: environment variable {variable} (secret_env) is not set"
            )
        try:
            Webhook(value)
        except (ValueError, EmptyWebhookSecretError):
            raise ConnectorsFileError(
                f"{where}: the secret in {variable} is not base64 "
                "(whsec_ followed by base64, as Standard Webhooks secrets are)"
            ) from None
        secrets.append(value)
    return secrets


def _time_text(moment: datetime) -> str:
    """RFC 3339 in UTC, as CloudEvents ``time`` requires (spec §3.1.1)."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
