"""A small demo directory: a handful of employees and teams for a first run."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from scimserver.db import get_database
from scimserver.models import Resource
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.schema import SchemaRegistry
from scimserver.scim.store import ResourceStore
from scimserver.scim.validation import validate_resource

logger = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

EMPLOYEES = [
    ("ada.lovelace", "Ada", "Lovelace", "E1001", "Engineering"),
    ("grace.hopper", "Grace", "Hopper", "E1002", "Engineering"),
    ("alan.turing", "Alan", "Turing", "E1003", "Research"),
    ("katherine.johnson", "Katherine", "Johnson", "E1004", "Research"),
    ("mary.jackson", "Mary", "Jackson", "E1005", "People"),
    ("edsger.dijkstra", "Edsger", "Dijkstra", "E1006", "Engineering"),
]
TEAMS = {
    "Engineering": ["ada.lovelace", "grace.hopper", "edsger.dijkstra"],
    "Research": ["alan.turing", "katherine.johnson"],
    "Wellbeing pilot": ["grace.hopper", "mary.jackson"],
}


def employee(
    user_name: str, given: str, family: str, number: str, dept: str
) -> dict[str, Any]:
    """Return the SCIM payload of one demo employee."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": user_name,
        "externalId": number,
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "emails": [
            {"value": f"{user_name}@example.com", "type": "work", "primary": True}
        ],
        "active": True,
        ENTERPRISE: {"employeeNumber": number, "department": dept},
    }


def load_demo_data(app: Flask) -> int:
    """Create the demo employees and teams that do not exist yet; return the count."""
    registry: SchemaRegistry = app.extensions[REGISTRY_KEY]
    users = registry.resource_type("User")
    groups = registry.resource_type("Group")
    assert users is not None and groups is not None
    created = 0

    with get_database(app).sessions() as session:
        user_store = ResourceStore(session, users)
        ids: dict[str, str] = {}
        for row in EMPLOYEES:
            existing = _find(session, "User", Resource.user_name, row[0])
            if existing is None:
                payload = validate_resource(users, employee(*row))
                existing = user_store.create(payload, None).id
                created += 1
            ids[row[0]] = existing

        group_store = ResourceStore(session, groups)
        for name, members in TEAMS.items():
            if _find(session, "Group", Resource.display_name, name) is None:
                payload = validate_resource(
                    groups, {"schemas": [GROUP_SCHEMA], "displayName": name}
                )
                group_store.create(payload, [{"value": ids[m]} for m in members])
                created += 1
        session.commit()

    logger.info("demo data loaded created=%d", created)
    return created


def _find(session: Any, resource_type: str, column: Any, value: str) -> str | None:
    query = select(Resource.id).where(
        Resource.resource_type == resource_type, func.lower(column) == value.lower()
    )
    found: str | None = session.scalar(query)
    return found
