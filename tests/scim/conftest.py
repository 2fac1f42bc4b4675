"""Schema fixtures shared by the unit tests of the SCIM modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from scimserver.scim.schema import ResourceType, SchemaRegistry

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    """The schemas shipped in ``schemas/``."""
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="session")
def users(registry: SchemaRegistry) -> ResourceType:
    """The User resource type."""
    found = registry.resource_type("User")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def groups(registry: SchemaRegistry) -> ResourceType:
    """The Group resource type."""
    found = registry.resource_type("Group")
    assert found is not None
    return found
