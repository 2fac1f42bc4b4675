"""python3-saml and its XML security binding import and work on this machine.

lxml below 6.0 beside xmlsec 1.3.17, or an xmlsec built from source, fails at
import with a libxml2 version mismatch; this test catches a reinstall that
brings either back.
"""

from __future__ import annotations

import importlib


def test_xmlsec_and_python3_saml_import() -> None:
    xmlsec = importlib.import_module("xmlsec")
    auth = importlib.import_module("onelogin.saml2.auth")

    assert hasattr(auth, "OneLogin_Saml2_Auth")
    assert xmlsec.constants.TransformRsaSha256 is not None
