"""ID token signing keys: generated, stored encrypted, rotated, published as a JWKS.

Keys live in the database so that every server process signs with the same key.
The two newest generations are in use: the *current* key signs, the *next* key
is already published (OpenID Connect Core 1.0 §10.1.1: a relying party that
caches the JWKS learns a new key before it signs). :func:`rotate` makes the
next key current, adds a new next key and retires the old current key, which
stays published for ``oidc_retired_key_seconds`` so that tokens it signed still
verify.

Private keys are PKCS#8 PEM encrypted with a password derived from the server's
secret key, so a copy of the database alone does not give them away; changing
the secret key therefore needs a rotation (old keys can no longer be read).
Keys are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scimserver.sso.provider.models import SigningKey

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
KEY_BITS = 2048
PASSWORD_LABEL = b"scimserver oidc signing key v1"

_cache_lock = threading.Lock()
_private_keys: dict[tuple[str, str], RSAKey] = {}


@dataclass(frozen=True)
class KeyStatus:
    """One stored key and the part it plays."""

    kid: str
    generation: int
    role: str
    created: datetime
    retired_at: datetime | None


class SigningKeys:
    """The stored keys of one server, read and written with its secret key."""

    def __init__(self, secret_key: str, retired_seconds: int) -> None:
        self._password = jwk_password(secret_key)
        self._cache_tag = hashlib.sha256(self._password).hexdigest()
        self._retired = timedelta(seconds=retired_seconds)

    def current(self, session: Session) -> RSAKey:
        """The private key that signs now; the first call makes the first keys."""
        generation = self._newest(session)
        row = session.scalar(
            select(SigningKey).where(SigningKey.generation == generation - 1)
        )
        if row is None:
            raise RuntimeError("the signing key generations have a gap")
        return self._private_key(row)

    def published(self, session: Session, now: datetime) -> KeySet:
        """Current, next, and retired keys still in their grace period."""
        newest = self._newest(session)
        query = (
            select(SigningKey.public_jwk)
            .where(
                or_(
                    SigningKey.generation >= newest - 1,
                    SigningKey.retired_at > now - self._retired,
                )
            )
            .order_by(SigningKey.generation.desc())
        )
        return KeySet.import_key_set({"keys": list(session.scalars(query))})

    def rotate(self, session: Session, now: datetime) -> str:
        """Make the next key current, retire the current one; return the new kid.

        Concurrent rotations are kept apart by the unique generation: the loser's
        insert fails and its transaction rolls back.
        """
        newest = self._newest(session)
        session.execute(
            update(SigningKey)
            .where(SigningKey.generation == newest - 1, SigningKey.retired_at.is_(None))
            .values(retired_at=now)
        )
        row = self._new_key(newest + 1, now)
        session.add(row)
        session.flush()
        logger.info("signing keys rotated generation=%d", newest + 1)
        return row.kid

    def _newest(self, session: Session) -> int:
        """The newest generation, storing generations 1 and 2 when there is none."""
        newest: int | None = session.scalar(select(func.max(SigningKey.generation)))
        if newest is not None:
            return newest

        now = datetime.now(UTC)
        try:
            with session.begin_nested():
                session.add_all([self._new_key(1, now), self._new_key(2, now)])
            logger.info("generated the first ID token signing keys")
        except IntegrityError:
            logger.debug("another process created the first signing keys")
        return 2

    def _new_key(self, generation: int, now: datetime) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        public = RSAKey.import_key(private.public_key())
        kid = public.thumbprint()
        jwk: dict[str, Any] = public.as_dict(private=False)
        jwk.update(kid=kid, use="sig", alg=ALGORITHM)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._password),
        )
        return SigningKey(
            kid=kid,
            generation=generation,
            private_key=pem.decode("ascii"),
            public_jwk=jwk,
            created=now,
        )

    def _private_key(self, row: SigningKey) -> RSAKey:
        """Decrypt a stored key once per process."""
        cache_key = (row.kid, self._cache_tag)
        with _cache_lock:
            key = _private_keys.get(cache_key)
            if key is None:
                private = serialization.load_pem_private_key(
                    row.private_key.encode("ascii"), self._password
                )
                if not isinstance(private, rsa.RSAPrivateKey):
                    raise ValueError(f"signing key {row.kid} is not an RSA key")
                key = RSAKey.import_key(private, {"kid": row.kid, "alg": ALGORITHM})
                _private_keys[cache_key] = key
        return key


def key_statuses(session: Session) -> list[KeyStatus]:
    """Every stored key, newest first, with its role."""
    rows = list(
        session.scalars(select(SigningKey).order_by(SigningKey.generation.desc()))
    )
    newest = rows[0].generation if rows else 0
    roles = {newest: "next", newest - 1: "current"}
    return [
        KeyStatus(
            row.kid,
            row.generation,
            roles.get(row.generation, "retired"),
            row.created,
            row.retired_at,
        )
        for row in rows
    ]


def jwk_password(secret_key: str) -> bytes:
    """The password that encrypts stored private keys, derived from the secret."""
    return hmac.new(secret_key.encode(), PASSWORD_LABEL, hashlib.sha256).digest()
