"""The EC P-256 key that signs consent receipts, kept in a PEM file.

The file named by the ``receipt_key_file`` setting is read on first use; when it
does not exist a new key is generated and written with mode 0600. Several
processes starting at once agree on one key: each writes its own key to a
temporary file and links it into place, and only the first link succeeds.

Servers behind one load balancer must share the file (a mounted secret),
otherwise each signs with its own key and publishes its own JWKS.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from joserfc.jwk import ECKey

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.receipt_key"
FILE_MODE = 0o600
_lock = threading.Lock()


def receipt_key() -> ECKey:
    """The current application's signing key, loaded (or made) once."""
    with _lock:
        key: ECKey | None = current_app.extensions.get(EXTENSION_KEY)
        if key is None:
            path = Path(current_app.config["SETTINGS"].receipt_key_file)
            key = load_or_create(path)
            current_app.extensions[EXTENSION_KEY] = key
    return key


def load_or_create(path: Path) -> ECKey:
    """Read the private key in ``path``, generating the file first if absent."""
    if not path.exists():
        _create(path)
    key = ECKey.import_key(path.read_bytes())
    if key.curve_name != "P-256" or not key.is_private:
        raise ValueError(f"{path} must hold an EC P-256 private key")
    return key


def _create(path: Path) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")

    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    try:
        os.link(temporary, path)
        logger.info("generated a receipt signing key in %s", path)
    except FileExistsError:
        logger.debug("another process created %s first", path)
    finally:
        temporary.unlink()
