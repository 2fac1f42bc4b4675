"""Release policies through HTTP: the shipped schemas, with more sensitive data.

The shipped dictionary classifies only the consent register as ``sensitive``.
These tests also mark the User's ``phoneNumbers`` and the enterprise
``costCenter`` sensitive, so that consent-gated release is exercised on an
ordinary multi-valued attribute and on an extension attribute.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import ScimClient, make_token

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CONSENT = "urn:scimserver:params:scim:schemas:extension:consent:1.0:User"
PHONES = f"{USER}:phoneNumbers"
COST_CENTER = f"{ENTERPRISE}:costCenter"
SENSITIVE = (PHONES, COST_CENTER)


@pytest.fixture(scope="session")
def schema_dir(schema_dir: str, tmp_path_factory: Any) -> str:
    """The suite's schemas, with :data:`SENSITIVE` classified sensitive."""
    folder = Path(schema_dir)
    dictionary_file = folder / "privacy" / "data_dictionary.json"
    document = json.loads(dictionary_file.read_text())
    copy: Path = tmp_path_factory.mktemp("sensitive") / "schemas"
    shutil.copytree(folder, copy)
    for key in SENSITIVE:
        document["attributes"][key]["classification"] = "sensitive"
    (copy / "privacy" / "data_dictionary.json").write_text(json.dumps(document))
    return str(copy)


def client_with(
    app: Flask, scim: ScimClient, name: str, policy: dict[str, Any] | None
) -> ScimClient:
    """A read-write SCIM client called ``name`` under ``policy``."""
    token = make_token(app, name, ["scim:read", "scim:write"], policy)
    return ScimClient(scim.client, token)
