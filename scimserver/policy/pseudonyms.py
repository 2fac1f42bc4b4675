"""Pairwise pseudonyms: the identifier under which one sector of clients sees a User.

A pseudonymous client never sees a User's ``id``; it sees
``pid-`` + base32(HMAC-SHA256(key, sector, id)) cut to 160 bits, the same
idea as OpenID Connect pairwise subject identifiers (OpenID Connect Core 1.0
§8.1). The pseudonym is

- stable: the same User has the same pseudonym for a sector on every request;
- pairwise: two sectors see unrelated pseudonyms, so two clients in different
  sectors cannot correlate Users by identifier;
- one-way: without the key nobody can compute a pseudonym from an ``id``, nor an
  ``id`` from a pseudonym.

Clients that share a sector (a learning platform and its reporting tool) share
pseudonyms, exactly as OpenID Connect clients that share a sector identifier.

Reverse lookup (a client addresses ``/Users/pid-...``) cannot invert the hash,
and hashing every User's id to find a match is O(n) per request. The server
therefore keeps a table ``(sector, pseudonym) -> user id`` (unique on
``(sector, user id)`` too), written

- when a User is created, for every sector that a stored policy names, and for
  every User when a policy that names a new sector is stored (a one-off
  backfill by the CLI), so that lists can be ordered by pseudonym;
- and, as a safety net, idempotently for every User a projection releases
  (:meth:`~scimserver.policy.release.ReleasePolicy.issued_pseudonyms`), since a
  client can only know a pseudonym it has been shown.

Rotating the key changes every pseudonym: treat it like a signing key that is
never rotated without telling every pseudonymous client.

A pseudonym hides the identifier only. Released attributes that are unique to a
person (``userName``, ``emails``, ``externalId``, ``meta.created``) let two
clients correlate as well as an id would, so a pseudonymous client's policy
should release none of them; and two clients that page through the same Users in
the same order (creation time) can pair them by position, which ordering a
pseudonymous client's lists by pseudonym prevents.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re

logger = logging.getLogger(__name__)

PREFIX = "pid-"
DIGEST_BYTES = 20  # 160 bits: 32 base32 characters without padding.
KEY_LABEL = b"scimserver pairwise pseudonym key v1"
SECTOR_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")

_PSEUDONYM = re.compile(re.escape(PREFIX) + r"[a-z2-7]{32}")


def derive_key(secret_key: str) -> bytes:
    """Derive the pseudonym key from the server's secret key.

    A key of its own keeps pseudonyms apart from every other use of the secret.
    """
    if not secret_key:
        raise ValueError("the secret key is empty")
    return hmac.new(secret_key.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()


def pseudonym(secret: bytes, sector: str, user_id: str) -> str:
    """Return the pseudonym of ``user_id`` in ``sector``: ``pid-`` and 32 letters.

    The sector is length-prefixed, so no pair (sector, id) can collide with
    another pair written with the same characters.
    """
    if not secret:
        raise ValueError("the pseudonym key is empty")
    if not SECTOR_PATTERN.fullmatch(sector):
        raise ValueError(f"invalid pseudonym sector {sector!r}")

    message = f"{len(sector)}:{sector}:{user_id}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:DIGEST_BYTES]
    return PREFIX + base64.b32encode(digest).decode("ascii").lower()


def is_pseudonym(text: str) -> bool:
    """Whether ``text`` has the form of a pseudonym (not whether it is issued)."""
    return _PSEUDONYM.fullmatch(text) is not None
