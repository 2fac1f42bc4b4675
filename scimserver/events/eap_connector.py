"""The ``eap_referral`` connector: the minimal referral, signed, to the EAP.

Each referral is one POST of ``application/json``::

    {"subject": "pid-...", "consentToken": "...",
     "moduleId": "wellness-101", "reason": "voluntary_followup"}

``subject`` is the EAP's own pseudonym for the employee (the connector's
release policy must be pseudonymous) and ``consentToken`` lets the EAP fetch
the consent receipt. Nothing else leaves the hub.

The request is signed per Standard Webhooks; ``webhook-id`` is
``referral_<id>``, the same on every retry and replay, so the EAP can drop a
repeat, and it is the referral's name in the EAP's status callback. Before
each try the consent is checked again: a referral whose consent was withdrawn
or has expired is cancelled and never sent.

Options (beside the shared ones of :mod:`scimserver.connectors.config`)::

    url = "https://eap.example.com/referrals"
    secret_env = "EAP_REFERRAL_SECRET"          # signs what the hub sends
    callback_secret_env = "EAP_CALLBACK_SECRET" # verifies the EAP's callbacks
    purpose = "eap_referral"                    # the consent a referral needs
    recipient = "eap-vendor"                    # default: the policy's recipient
    timeout = 10.0
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from scimserver.connectors.base import DeliveryOutcome, OutboundEvent
from scimserver.connectors.config import SHARED_KEYS, ConnectorsFileError
from scimserver.connectors.http_outcome import outcome_of_error, outcome_of_response
from scimserver.db import get_database
from scimserver.events import lifecycle
from scimserver.events.models import Referral
from scimserver.events.referrals import consent_still_in_effect

logger = logging.getLogger(__name__)

OWN_KEYS = frozenset(
    {"url", "secret_env", "callback_secret_env", "purpose", "recipient", "timeout"}
)
USER_AGENT = "scimserver-eap-referral/1"
WORKER_ACTOR = "worker"
#: ``webhook-id`` of a referral's delivery: this prefix and the referral's id.
MESSAGE_PREFIX = "referral_"


class EapReferralConnector:
    """Sends referrals to one EAP and verifies the EAP's signed callbacks."""

    def __init__(
        self,
        name: str,
        url: str,
        secrets: Sequence[str],
        callback_secrets: Sequence[str],
        *,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.url = url
        self._signers = [Webhook(secret) for secret in secrets]
        self._verifiers = [Webhook(secret) for secret in callback_secrets]
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})

    @classmethod
    def from_options(
        cls, name: str, options: Mapping[str, Any]
    ) -> EapReferralConnector:
        """Build from the connector's table; secrets come from the environment."""
        where = f"connector {name!r}"
        unknown = sorted(set(options) - OWN_KEYS - SHARED_KEYS)
        if unknown:
            raise ConnectorsFileError(f"{where}: unknown keys {', '.join(unknown)}")
        if "consent" in options or "scope" in options:
            raise ConnectorsFileError(
                f"{where}: an eap_referral connector takes purpose and recipient, "
                "not consent or scope (it receives referrals, not User changes)"
            )
        url = options.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConnectorsFileError(f"{where}: url must be an http(s) URL")
        timeout = options.get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ConnectorsFileError(f"{where}: timeout must be a number of seconds")
        if not 0 < timeout <= 120:
            raise ConnectorsFileError(f"{where}: timeout must lie in (0, 120] seconds")

        return cls(
            name,
            url,
            read_secrets(options.get("secret_env"), "secret_env", where),
            read_secrets(
                options.get("callback_secret_env"), "callback_secret_env", where
            ),
            timeout=float(timeout),
        )

    def deliver(self, event: OutboundEvent) -> DeliveryOutcome:
        """Check the consent, send the referral once, and record that it was sent."""
        referral_id = event.detail.get("referral")
        if not isinstance(referral_id, str):
            return DeliveryOutcome("rejected", error="the event names no referral")
        with get_database().sessions() as session:
            prepared = self._prepare(session, referral_id, event.subject)
            session.commit()
        if isinstance(prepared, DeliveryOutcome):
            return prepared

        outcome = self._post(referral_id, prepared)
        if outcome.status == "delivered":
            with get_database().sessions() as session:
                _mark_sent(session, referral_id)
                session.commit()
        return outcome

    def verify_callback(self, body: str, headers: Mapping[str, str]) -> Any:
        """The callback's JSON if one callback secret signed it; else raise."""
        for verifier in self._verifiers:
            try:
                return verifier.verify(body, dict(headers))
            except WebhookVerificationError:
                continue
        raise WebhookVerificationError("no callback secret matches the signature")

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def _prepare(
        self, session: Session, referral_id: str, subject: str
    ) -> dict[str, Any] | DeliveryOutcome:
        """The payload to send, or the outcome when there is nothing to send."""
        referral = session.get(Referral, referral_id, with_for_update=True)
        if referral is None:
            return DeliveryOutcome("rejected", error="the referral no longer exists")
        if referral.state == lifecycle.CANCELLED:
            return DeliveryOutcome("rejected", error="the referral was cancelled")
        if referral.state not in lifecycle.UNSENT:
            return DeliveryOutcome("delivered")  # Sent before: a replay.

        now = datetime.now(UTC)
        if not consent_still_in_effect(session, referral.consent_token, now):
            detail = {"why": "consent_ended"}
            lifecycle.move(
                session,
                referral,
                lifecycle.CANCELLED,
                now,
                actor=WORKER_ACTOR,
                detail=detail,
            )
            return DeliveryOutcome(
                "rejected", error="consent ended; referral cancelled"
            )
        if referral.state == lifecycle.CREATED:
            lifecycle.move(
                session, referral, lifecycle.CONSENT_CHECKED, now, actor=WORKER_ACTOR
            )
        return minimal_payload(referral, subject)

    def _post(self, referral_id: str, payload: dict[str, Any]) -> DeliveryOutcome:
        body = json.dumps(payload, separators=(",", ":"))
        message_id = f"{MESSAGE_PREFIX}{referral_id}"
        try:
            response = self._client.post(
                self.url, content=body.encode(), headers=self._headers(message_id, body)
            )
        except httpx.HTTPError as error:
            logger.info(
                "eap unreachable connector=%s referral=%s error=%s",
                self.name,
                referral_id,
                type(error).__name__,
            )
            return outcome_of_error(error)
        return outcome_of_response(response)

    def _headers(self, message_id: str, body: str) -> dict[str, str]:
        """Standard Webhooks headers (``webhook-id``, timestamp, signatures)."""
        moment = datetime.now(UTC)
        signatures = [signer.sign(message_id, moment, body) for signer in self._signers]
        return {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": " ".join(signatures),
        }


def minimal_payload(referral: Referral, subject: str) -> dict[str, Any]:
    """Exactly what the EAP receives about a referral."""
    return {
        "subject": subject,
        "consentToken": referral.consent_token,
        "moduleId": referral.module_id,
        "reason": referral.reason,
    }


def read_secrets(names: Any, key: str, where: str) -> list[str]:
    """Read Standard Webhooks secrets from the environment variables named."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        raise ConnectorsFileError(f"{where}: {key} must name environment variables")
    secrets = []
    for variable in names:
        value = os.environ.get(str(variable), "")
        if not value:
            raise ConnectorsFileError(
                f"{where}: environment variable {variable} ({key}) is not set"
            )
        try:
            Webhook(value)
        except (ValueError, EmptyWebhookSecretError):
            raise ConnectorsFileError(
                f"{where}: the secret in {variable} is not a Standard Webhooks "
                "secret (whsec_ followed by base64)"
            ) from None
        secrets.append(value)
    return secrets


def _mark_sent(session: Session, referral_id: str) -> None:
    referral = session.get(Referral, referral_id, with_for_update=True)
    if referral is not None and referral.state == lifecycle.CONSENT_CHECKED:
        now = datetime.now(UTC)
        lifecycle.move(session, referral, lifecycle.SENT, now, actor=WORKER_ACTOR)
