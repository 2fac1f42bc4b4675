"""What an upstream OpenID Provider publishes: its metadata and signing keys.

The metadata comes from ``<issuer>/.well-known/openid-configuration``
(OpenID Connect Discovery 1.0 §4) and must name the configured issuer exactly
(§4.3); the keys come from its ``jwks_uri``. Both are cached per process for a
few minutes; the keys are fetched again at once when an ID token names a key
id the cache does not hold (key rotation, Core §10.1.1).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.jwk import KeySet, KeySetSerialization

logger = logging.getLogger(__name__)

WELL_KNOWN = "/.well-known/openid-configuration"
CACHE_SECONDS = 300
TIMEOUT_SECONDS = 10.0


class DiscoveryError(Exception):
    """The provider's metadata or keys could not be fetched or are not valid."""


@dataclass(frozen=True)
class _Cached:
    value: Any
    fetched_at: float


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def provider_metadata(issuer: str) -> OpenIDProviderMetadata:
    """The validated metadata of ``issuer``."""
    cached = _fresh(f"metadata:{issuer}")
    if cached is not None:
        metadata: OpenIDProviderMetadata = cached
        return metadata

    metadata = OpenIDProviderMetadata(_get_json(issuer + WELL_KNOWN))
    if metadata.get("issuer") != issuer:
        raise DiscoveryError("the metadata names another issuer")
    try:
        metadata.validate()
    except ValueError as error:
        raise DiscoveryError(f"the metadata is not valid: {error}") from None
    _store(f"metadata:{issuer}", metadata)
    return metadata


def signing_keys(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    """The provider's public keys; ``refresh`` skips the cache."""
    cached = None if refresh else _fresh(f"jwks:{jwks_uri}")
    if cached is not None:
        keys: KeySet = cached
        return keys

    try:
        document = cast(KeySetSerialization, _get_json(jwks_uri))
        keys = KeySet.import_key_set(document)
    except (ValueError, KeyError, TypeError) as error:
        raise DiscoveryError(f"the JWK Set is not valid: {error}") from None
    _store(f"jwks:{jwks_uri}", keys)
    return keys


def forget() -> None:
    """Empty the cache (tests start each provider afresh)."""
    with _lock:
        _cache.clear()


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        logger.warning("fetching provider document failed url=%s", url)
        raise DiscoveryError(f"cannot fetch {url}: {error}") from None
    if not isinstance(document, dict):
        raise DiscoveryError(f"{url} did not return a JSON object")
    return document


def _fresh(key: str) -> Any:
    with _lock:
        cached = _cache.get(key)
    if cached is None or time.monotonic() - cached.fetched_at > CACHE_SECONDS:
        return None
    return cached.value


def _store(key: str, value: Any) -> None:
    with _lock:
        _cache[key] = _Cached(value, time.monotonic())
