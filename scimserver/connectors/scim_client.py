"""HTTP calls to a downstream SCIM 2.0 service provider (RFC 7644 §3).

A small surface over httpx: :class:`DownstreamScim` sends one SCIM request per
method and turns every failure into :class:`DownstreamFailure`, which says
whether the request may succeed later (``retryable``) and when
(``retry_after``). Bodies and filters carry personal data, so log lines name the
method, the path without its query, the status and the latency only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client

from scimserver.connectors.http_outcome import HONOURS_RETRY_AFTER, parse_retry_after
from scimserver.connectors.scim_options import (
    BearerAuth,
    ClientCredentialsAuth,
    ScimPushOptions,
)

logger = logging.getLogger(__name__)

SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENDPOINTS = {"User": "/Users", "Group": "/Groups"}
#: Answers that may succeed later (RFC 9110 §15.5.9, §15.6; RFC 6585 §4).
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
TOKEN_LEEWAY_SECONDS = 30


class DownstreamFailure(Exception):
    """A request that did not succeed: an error answer, a timeout, no connection."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        scim_type: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.scim_type = scim_type
        self.retryable = retryable
        self.retry_after = retry_after


class TokenUnavailable(Exception):
    """The token endpoint gave no access token (down, or refused the client)."""


class ClientCredentialsFlow(httpx.Auth):
    """Bearer tokens from an OAuth 2.0 token endpoint (RFC 6749 §4.4).

    authlib's OAuth2Client fetches the token and knows when it expires; this
    flow puts it on each request and fetches a new one once on a 401.
    """

    def __init__(self, credentials: ClientCredentialsAuth, timeout: float) -> None:
        self._oauth = OAuth2Client(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            scope=credentials.scope,
            token_endpoint=credentials.token_url,
            grant_type="client_credentials",
            timeout=timeout,
        )
        self._lock = threading.Lock()

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._access_token()}"
        response = yield request

        if response.status_code == 401:
            fresh = self._access_token(renew=True)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request

    def close(self) -> None:
        """Close the token endpoint's connections."""
        self._oauth.close()

    def _access_token(self, renew: bool = False) -> str:
        with self._lock:
            token = self._oauth.token
            if renew or not token or token.is_expired(leeway=TOKEN_LEEWAY_SECONDS):
                token = self._fetch()
            return str(token["access_token"])

    def _fetch(self) -> Any:
        try:
            return self._oauth.fetch_token(grant_type="client_credentials")
        except Exception as error:  # authlib and its HTTP client raise many kinds
            # The message may echo the request; name the error type only.
            logger.warning("token request failed error=%s", type(error).__name__)
            raise TokenUnavailable(type(error).__name__) from None


class DownstreamScim:
    """One downstream SCIM endpoint, with its authentication and timeouts."""

    def __init__(
        self, options: ScimPushOptions, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = options.url
        self._flow: ClientCredentialsFlow | None = None
        headers = {"Accept": SCIM_JSON}
        auth: httpx.Auth | None = None
        if isinstance(options.auth, BearerAuth):
            headers["Authorization"] = f"Bearer {options.auth.token}"
        else:
            self._flow = ClientCredentialsFlow(options.auth, options.timeout)
            auth = self._flow
        self._http = httpx.Client(
            base_url=options.url,
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(options.timeout, connect=options.connect_timeout),
            transport=transport,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()
        if self._flow is not None:
            self._flow.close()

    def create(
        self, resource_type: str, document: dict[str, Any], key: str | None = None
    ) -> dict[str, Any]:
        """POST a new resource (RFC 7644 §3.3); return the created resource."""
        return self._send("POST", ENDPOINTS[resource_type], document, key) or {}

    def get(self, resource_type: str, downstream_id: str) -> dict[str, Any]:
        """GET one resource (RFC 7644 §3.4.1)."""
        return self._send("GET", _path(resource_type, downstream_id)) or {}

    def replace(
        self,
        resource_type: str,
        downstream_id: str,
        document: dict[str, Any],
        key: str | None = None,
    ) -> None:
        """PUT the whole resource (RFC 7644 §3.5.1)."""
        body = {**document, "id": downstream_id}
        self._send("PUT", _path(resource_type, downstream_id), body, key)

    def patch(
        self,
        resource_type: str,
        downstream_id: str,
        operations: list[dict[str, Any]],
        key: str | None = None,
    ) -> None:
        """PATCH the resource with ``operations`` (RFC 7644 §3.5.2)."""
        body = {"schemas": [PATCH_OP], "Operations": operations}
        self._send("PATCH", _path(resource_type, downstream_id), body, key)

    def delete(
        self, resource_type: str, downstream_id: str, key: str | None = None
    ) -> None:
        """DELETE the resource (RFC 7644 §3.6); one already gone counts as done."""
        try:
            self._send("DELETE", _path(resource_type, downstream_id), key=key)
        except DownstreamFailure as failure:
            if failure.status != 404:
                raise

    def find(self, resource_type: str, scim_filter: str) -> list[dict[str, Any]]:
        """The resources matching ``scim_filter`` (RFC 7644 §3.4.2.2), one page."""
        params = {"filter": scim_filter, "count": "2"}
        answer = self._send("GET", ENDPOINTS[resource_type], params=params) or {}
        return list(answer.get("Resources") or [])

    def pages(self, resource_type: str, count: int) -> Iterator[list[dict[str, Any]]]:
        """Every resource, a page at a time by ``startIndex`` (RFC 7644 §3.4.2.4)."""
        start = 1
        while True:
            params = {"startIndex": str(start), "count": str(count)}
            answer = self._send("GET", ENDPOINTS[resource_type], params=params) or {}
            resources = list(answer.get("Resources") or [])
            if resources:
                yield resources

            start += len(resources)
            total = int(answer.get("totalResults", 0))
            if not resources or start > total:
                return

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Send one request; return its JSON body, or raise DownstreamFailure."""
        headers = {"Content-Type": SCIM_JSON} if body is not None else {}
        if key:
            headers["Idempotency-Key"] = key
        started = time.monotonic()
        try:
            response = self._http.request(
                method, path, json=body, headers=headers, params=params
            )
        except (httpx.HTTPError, TokenUnavailable) as error:
            logger.info("scim push %s %s failed error=%s", method, path, _kind(error))
            raise DownstreamFailure(_kind(error), retryable=True) from None

        elapsed = (time.monotonic() - started) * 1000
        logger.info(
            "scim push %s %s status=%s ms=%.0f",
            method,
            path,
            response.status_code,
            elapsed,
        )
        if response.is_success:
            return _json(response)
        raise _failure(response)


def _path(resource_type: str, downstream_id: str) -> str:
    return f"{ENDPOINTS[resource_type]}/{downstream_id}"


def _kind(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, TokenUnavailable):
        return f"no access token ({error})"
    return f"connection failed ({type(error).__name__})"


def _json(response: httpx.Response) -> dict[str, Any] | None:
    if not response.content:
        return None
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _failure(response: httpx.Response) -> DownstreamFailure:
    """The failure an error answer stands for, with its SCIM error detail.

    RFC 7644 §3.12 error bodies carry ``detail`` and ``scimType``.
    """
    status = response.status_code
    body = _json(response) or {}
    detail = str(body.get("detail") or response.reason_phrase or "error")[:500]
    scim_type = body.get("scimType")
    return DownstreamFailure(
        f"HTTP {status}: {detail}",
        status=status,
        scim_type=str(scim_type) if scim_type else None,
        retryable=status in RETRYABLE_STATUS,
        retry_after=(
            parse_retry_after(response.headers.get("Retry-After"))
            if status in HONOURS_RETRY_AFTER
            else None
        ),
    )
