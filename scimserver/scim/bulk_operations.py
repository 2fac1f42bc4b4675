"""Reading a BulkRequest (RFC 7644 §3.7): its operations and their targets.

A malformed request, or one with more than ``maxOperations`` operations, fails as
a whole. What is wrong with one operation becomes that operation's ``problem``
instead, so that the others still run (§3.7: as many changes as possible).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scimserver.config import Settings
from scimserver.scim.bulk_plan import References, find_references
from scimserver.scim.errors import (
    InvalidSyntax,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ScimError,
)
from scimserver.scim.schema import ResourceType
from scimserver.scim.validation import MEMBERS, members_attribute

logger = logging.getLogger(__name__)

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SUCCESS_STATUS = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


@dataclass(frozen=True)
class BulkOperation:
    """One operation of a BulkRequest, as read (RFC 7644 §3.7).

    ``problem`` is the error the operation fails with, found while reading it;
    without one, ``resource_type`` is set. ``resource_id`` may be ``bulkId:x``.
    """

    index: int
    method: str
    bulk_id: str | None = None
    version: str | None = None
    data: Any = None
    resource_type: ResourceType | None = None
    resource_id: str | None = None
    problem: ScimError | None = None
    references: References = field(default_factory=References)

    @property
    def name(self) -> str:
        """How an error detail names this operation."""
        if self.bulk_id:
            return f"the operation with bulkId '{self.bulk_id}'"
        return f"operation {self.index + 1}"


@dataclass(frozen=True)
class BulkRequest:
    """The operations of a BulkRequest and its ``failOnErrors``."""

    operations: list[BulkOperation]
    fail_on_errors: int | None = None

    def declared(self) -> dict[str, int]:
        """Map each bulkId to the POST that declares it."""
        found: dict[str, int] = {}
        for operation in self.operations:
            if operation.method == "POST" and operation.bulk_id is not None:
                found.setdefault(operation.bulk_id, operation.index)
        return found


def read_bulk_request(
    body: dict[str, Any], resource_types: Sequence[ResourceType], settings: Settings
) -> BulkRequest:
    """Read a BulkRequest; a malformed or too large request fails as a whole."""
    fields = {key.lower(): value for key, value in body.items()}
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST not in schemas:
        raise InvalidSyntax(f"A bulk request must list the schema {BULK_REQUEST}.")
    raw_operations = fields.get("operations")
    if not isinstance(raw_operations, list):
        raise InvalidSyntax("'Operations' must be a list of operations.")

    limit = settings.bulk_max_operations
    if len(raw_operations) > limit:
        raise PayloadTooLarge(
            f"The bulk request has {len(raw_operations)} operations; "
            f"maxOperations is {limit}."
        )
    operations = [
        read_operation(index, raw, resource_types)
        for index, raw in enumerate(raw_operations)
    ]
    fail_on_errors = _fail_on_errors(fields.get("failonerrors"))
    return BulkRequest(_reject_repeated_bulk_ids(operations), fail_on_errors)


def read_operation(
    index: int, raw: Any, resource_types: Sequence[ResourceType]
) -> BulkOperation:
    """Read one operation; what is wrong with it becomes its ``problem``."""
    if not isinstance(raw, dict):
        problem = InvalidSyntax("Each operation must be a JSON object.")
        return BulkOperation(index, "", problem=problem)
    fields = {key.lower(): value for key, value in raw.items()}
    method = fields.get("method")
    operation = BulkOperation(
        index,
        method.upper() if isinstance(method, str) else "",
        data=fields.get("data"),
    )

    try:
        operation = replace(
            operation,
            bulk_id=_text(fields, "bulkId"),
            version=_text(fields, "version"),
        )
        resource_type, resource_id = _target(
            operation.method, fields.get("path"), resource_types
        )
        _check_data(operation)
    except ScimError as problem:
        return replace(operation, problem=problem)

    members = _deferrable_members(operation.method, resource_type)
    references = find_references(resource_id, operation.data, members)
    return replace(
        operation,
        resource_type=resource_type,
        resource_id=resource_id,
        references=references,
    )


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name.lower())
    if value is None or isinstance(value, str):
        return value
    raise InvalidSyntax(f"'{name}' must be a string.")


def _target(
    method: str, path: Any, resource_types: Sequence[ResourceType]
) -> tuple[ResourceType, str | None]:
    """Read ``path``: an endpoint such as ``/Users`` or a resource ``/Users/{id}``."""
    if method not in SUCCESS_STATUS:
        raise InvalidSyntax("'method' must be POST, PUT, PATCH or DELETE.")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidSyntax(
            "'path' must be an endpoint such as /Users, or /Users/{id}."
        )

    endpoint, _slash, resource_id = path[1:].partition("/")
    resource_type = next(
        (
            rt
            for rt in resource_types
            if rt.endpoint.strip("/").lower() == endpoint.lower()
        ),
        None,
    )
    if resource_type is None:
        raise NotFound(f"No resource type has the endpoint /{endpoint}.")
    if (method == "POST") != (resource_id == ""):
        raise MethodNotAllowed(f"{method} is not allowed on {path}.")
    return resource_type, resource_id or None


def _check_data(operation: BulkOperation) -> None:
    if operation.method == "POST" and not operation.bulk_id:
        raise InvalidSyntax("A POST operation needs a 'bulkId' (RFC 7644 §3.7).")
    if operation.method != "DELETE" and not isinstance(operation.data, dict):
        raise InvalidSyntax(f"A {operation.method} operation needs 'data', an object.")


def _deferrable_members(method: str, resource_type: ResourceType) -> str | None:
    """Name the attribute whose member references may wait in a circle."""
    if method not in ("POST", "PUT") or members_attribute(resource_type) is None:
        return None
    return MEMBERS


def _fail_on_errors(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidSyntax("'failOnErrors' must be an integer of at least 1.")
    return value


def _reject_repeated_bulk_ids(
    operations: list[BulkOperation],
) -> list[BulkOperation]:
    """A bulkId is unique within a request (§3.7); a repeat fails its operation."""
    seen: set[str] = set()
    checked = []
    for operation in operations:
        bulk_id = operation.bulk_id
        if bulk_id is not None and bulk_id in seen and operation.problem is None:
            problem = InvalidSyntax(f"bulkId '{bulk_id}' is used by an earlier one.")
            operation = replace(operation, problem=problem)
        if bulk_id is not None:
            seen.add(bulk_id)
        checked.append(operation)
    return checked
