"""Schema fixtures shared by the unit tests of the SCIM modules."""

from __future__ import annotations

import pytest

from scimserver.scim.schema import ResourceType, SchemaRegistry


@pytest.fixture(scope="session")
def registry(schema_dir: str) -> SchemaRegistry:
    """The shipped schemas, with the optional extensions switched on."""
    return SchemaRegistry.load(schema_dir)


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
