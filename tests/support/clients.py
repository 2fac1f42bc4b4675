"""Clients with a compatibility profile and a deprovisioning mode, for tests."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from scimserver.db import get_database
from scimserver.policy.client_settings import (
    Deprovisioning,
    Profile,
    configure_client,
)
from scimserver.policy.clients import create_client
from tests.conftest import ScimClient, give_policy

READ_WRITE = ("scim:read", "scim:write")


def make_profile_token(
    app: Flask,
    name: str,
    profile: Profile = Profile.STANDARD,
    deprovision: Deprovisioning = Deprovisioning.HARD,
) -> str:
    """Register a read-write client with the given settings; return its token."""
    with get_database(app).sessions() as session:
        client, token = create_client(session, name, list(READ_WRITE))
        configure_client(client, profile=profile, deprovision=deprovision)
        give_policy(app, session, client, "source-of-record")
        session.commit()
    return token


def profile_client(
    app: Flask,
    client: FlaskClient,
    profile: Profile,
    deprovision: Deprovisioning = Deprovisioning.HARD,
) -> ScimClient:
    """A SCIM client authenticated as a new client with ``profile``."""
    name = f"{profile.value}-{deprovision.value}"
    return ScimClient(client, make_profile_token(app, name, profile, deprovision))
