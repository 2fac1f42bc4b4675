"""Where to send the employee after a login: a path on this server, nothing else.

``next`` comes from the query string, so an attacker can write any value into
a link. Only a relative path is accepted (RFC 3986 §4.2, path-absolute): no
scheme, no authority, no ``//`` or ``/\\`` that browsers read as another host,
no control characters.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

HOME = "/account/consent"
MAX_LENGTH = 2048


def safe_next(value: str | None) -> str | None:
    """Return ``value`` if it is a relative path on this server, else None.

    An absent value means :data:`HOME`.
    """
    if value is None or value == "":
        return HOME
    if len(value) > MAX_LENGTH or not value.startswith("/"):
        return None
    if value.startswith(("//", "/\\")) or "\\" in value:
        return None
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in value):
        return None

    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
