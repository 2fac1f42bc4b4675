"""SCIM Bulk (RFC 7644 §3.7): many writes in one request.

Each operation is applied atomically on its own, in a savepoint of the request's
transaction: an operation that fails leaves nothing behind and the operations
before it stay; the request commits once, at the end. Operations write through
:mod:`scimserver.scim.writes`, as the single-resource endpoints do, and run in the
order :mod:`scimserver.scim.bulk_plan` gives them.

A savepoint costs about a third of a simple create, so operations share one in
batches (:meth:`BulkRunner.run`); a batch in which one fails is rolled back and
applied again without it, and it alone, which gives the same result. Within a
batch, consecutive POSTs that refer to no bulkId are validated one by one and
then stored together: one query checks their userNames, one INSERT per table
writes them (:meth:`BulkRunner._create_together`).

TODO: POSTs that refer to bulkIds, and every POST of a client whose dialect
rehires (each may update a User another one changed), are still written one at
a time, at about three times the cost.

TODO: on SQLite, pysqlite emits no BEGIN before a SAVEPOINT, so each savepoint's
RELEASE commits; operations stay atomic, but a failure that must undo the whole
request (see :meth:`BulkRunner._check_transaction`) cannot. ``scimserver.db``
should emit BEGIN itself on SQLite.

Choices where the RFC leaves room:

- A reference to a bulkId that no POST of the request declares, or whose POST
  failed, fails with 409, the status §3.7.1 gives to references that cannot be
  resolved. So does a circular reference that Group members cannot break.
- A POST needs a ``bulkId`` (§3.7: REQUIRED); a bulkId that an earlier POST
  already declared fails its operation with ``invalidSyntax``.
- ``failOnErrors`` counts failed operations; once reached, nothing more runs and
  the response lists the operations that ran, in the order of the request.
- More than ``maxOperations`` operations or ``maxPayloadSize`` bytes fail the
  whole request with 413, naming the limit (§3.7.4); nothing runs.
- A successful operation's ``response`` body is left out (§3.7.3 allows it); its
  ``location`` and ``version`` are given.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from flask import request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction
from werkzeug.exceptions import RequestEntityTooLarge

from scimserver.config import Settings
from scimserver.models import Resource
from scimserver.policy.client_view import current_view
from scimserver.scim import writes
from scimserver.scim.bulk_operations import (
    SUCCESS_STATUS,
    BulkOperation,
    BulkRequest,
    read_bulk_request,
)
from scimserver.scim.bulk_plan import Step, defer_members, plan_steps, substitute
from scimserver.scim.errors import (
    Conflict,
    InternalError,
    InvalidSyntax,
    PayloadTooLarge,
    ScimError,
    UniquenessError,
)
from scimserver.scim.representation import etag, location
from scimserver.scim.responses import read_json_body
from scimserver.scim.schema import ResourceType
from scimserver.scim.store import ResourceStore
from scimserver.scim.validation import MEMBERS, members_attribute, validate_members

logger = logging.getLogger(__name__)

BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
#: Most single-operation steps applied in one savepoint (see BulkRunner.run).
MAX_BATCH = 64


@dataclass(frozen=True)
class Outcome:
    """The result of one operation, as listed in the BulkResponse (§3.7.3)."""

    operation: BulkOperation
    status: int
    location: str | None = None
    version: str | None = None
    error: ScimError | None = None

    def to_body(self) -> dict[str, Any]:
        """Return the operation's entry of the BulkResponse."""
        body: dict[str, Any] = {"method": self.operation.method}
        if self.operation.bulk_id is not None:
            body["bulkId"] = self.operation.bulk_id
        if self.version is not None:
            body["version"] = self.version
        if self.location is not None:
            body["location"] = self.location
        body["status"] = str(self.status)
        if self.error is not None:
            body["response"] = self.error.to_body()
        return body


def read_bulk_body(settings: Settings) -> dict[str, Any]:
    """Read the body of a Bulk request, up to ``maxPayloadSize`` (§3.7.4)."""
    limit = settings.bulk_max_payload_bytes
    too_large = PayloadTooLarge(
        f"The bulk request is larger than maxPayloadSize ({limit} bytes)."
    )
    request.max_content_length = limit
    if (request.content_length or 0) > limit:
        raise too_large
    try:
        return read_json_body()
    except RequestEntityTooLarge:
        raise too_large from None


def apply_bulk(
    session: Session,
    resource_types: Sequence[ResourceType],
    settings: Settings,
    body: dict[str, Any],
) -> dict[str, Any]:
    """RFC 7644 §3.7: run a BulkRequest and return the BulkResponse.

    The caller commits ``session`` afterwards.
    """
    bulk_request = read_bulk_request(body, resource_types, settings)
    outcomes = BulkRunner(session, resource_types, settings.base_url).run(bulk_request)

    failed = sum(1 for outcome in outcomes if outcome.error is not None)
    logger.info(
        "bulk applied operations=%d ran=%d failed=%d",
        len(bulk_request.operations),
        len(outcomes),
        failed,
    )
    return {
        "schemas": [BULK_RESPONSE],
        "Operations": [outcome.to_body() for outcome in outcomes],
    }


@dataclass
class _Attempt:
    """The state of one step while it runs, kept apart until it succeeds."""

    known: Mapping[str, str]
    waiting: set[str]
    created: dict[str, str] = field(default_factory=dict)
    current: BulkOperation | None = None
    deferred: list[tuple[BulkOperation, Resource, list[dict[str, Any]]]] = field(
        default_factory=list
    )

    def id_of(self, bulk_id: str) -> str | None:
        """Return the id of the resource created for ``bulk_id``, if any yet."""
        return self.created.get(bulk_id) or self.known.get(bulk_id)


class BulkRunner:
    """Runs the operations of BulkRequests in one session (RFC 7644 §3.7)."""

    def __init__(
        self,
        session: Session,
        resource_types: Sequence[ResourceType],
        base_url: str,
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.stores = {rt.name: ResourceStore(session, rt) for rt in resource_types}
        self.operations: list[BulkOperation] = []
        self.created: dict[str, str] = {}
        self.declared: dict[str, int] = {}
        self.root: SessionTransaction | None = None

    def run(self, bulk_request: BulkRequest) -> list[Outcome]:
        """Run the operations; return the outcomes of those that ran, in order.

        Consecutive steps of one operation share a savepoint, in batches that
        double up to :data:`MAX_BATCH` while they succeed. A batch in which an
        operation fails is rolled back; the steps before that operation run
        again together, it runs alone, and the batches start again from one step.
        """
        self.operations = bulk_request.operations
        self.declared = bulk_request.declared()
        self.root = self.session.get_transaction() or self.session.begin()
        references = [operation.references for operation in self.operations]
        pending = deque(plan_steps(references, self.declared))

        outcomes: list[Outcome] = []
        errors, size = 0, 1
        after_failure: deque[int] = deque()
        limit = bulk_request.fail_on_errors
        while pending and (limit is None or errors < limit):
            wanted = after_failure.popleft() if after_failure else size
            batch = _take_batch(pending, wanted, self.operations)
            ran = self._run_batch(batch)
            if isinstance(ran, int):
                pending.extendleft(reversed(batch))
                after_failure = deque([ran, 1] if ran else [1])
                continue
            failed = sum(1 for outcome in ran if outcome.error is not None)
            size = 1 if failed else min(2 * size, MAX_BATCH)
            errors += failed
            outcomes += ran
        return sorted(outcomes, key=lambda outcome: outcome.operation.index)

    def _run_batch(self, steps: list[Step]) -> list[Outcome] | int:
        """Apply steps in one savepoint; if one of several fails, its position."""
        if len(steps) == 1:
            return self._run_step(steps[0])
        operations = [self.operations[step.operations[0]] for step in steps]
        attempt, result = self._apply_together(operations)
        if isinstance(result, ScimError):
            return _position(operations, attempt.current)
        return self._succeeded_all(operations, result)

    def _run_step(self, step: Step) -> list[Outcome]:
        """Apply the operations of one step in a savepoint: all of them or none."""
        operations = [self.operations[index] for index in step.operations]
        if not step.resolvable:
            error = Conflict(
                "The operations refer to each other in a circle that only Group "
                "members could break (RFC 7644 §3.7.1)."
            )
            return [self._failed(operation, error) for operation in operations]

        attempt, result = self._apply_together(operations)
        if isinstance(result, ScimError):
            return self._step_failed(operations, attempt, result)
        return self._succeeded_all(operations, result)

    def _apply_together(
        self, operations: list[BulkOperation]
    ) -> tuple[_Attempt, list[Resource] | ScimError]:
        """Apply operations in one savepoint; on failure, none of them stays."""
        attempt = _Attempt(self.created, _declared_by(operations))
        try:
            with self.session.begin_nested():
                resources = self._apply_all(operations, attempt)
                self._add_deferred_members(attempt)
        except (ScimError, SQLAlchemyError) as error:
            self._check_transaction(attempt)
            return attempt, _as_scim_error(error)

        self.created.update(attempt.created)
        return attempt, resources

    def _apply_all(
        self, operations: list[BulkOperation], attempt: _Attempt
    ) -> list[Resource]:
        """Apply operations in order; consecutive plain POSTs are created together."""
        resources: list[Resource] = []
        for type_name, group in groupby(operations, key=_plain_post_type):
            run = list(group)
            store = self.stores.get(type_name) if type_name else None
            if store is not None and len(run) > 1 and writes.creates_together(store):
                resources += self._create_together(store, run, attempt)
            else:
                resources += [self._apply(operation, attempt) for operation in run]
        return resources

    def _create_together(
        self, store: ResourceStore, run: list[BulkOperation], attempt: _Attempt
    ) -> list[Resource]:
        """Create POSTs without references with one INSERT per table.

        Each is validated and checked against the client's policy as a POST of its
        own would be, and all userNames with one query; the first that fails is
        named in ``attempt`` and fails the batch.
        """
        news = []
        for operation in run:
            attempt.current = operation
            news.append(writes.prepare_create(store, operation.data))

        clash = store.first_clash([new.document for new in news])
        if clash is not None:
            attempt.current = run[clash]
            user_name = news[clash].document["userName"]
            raise UniquenessError(f"userName '{user_name}' is already taken.")

        attempt.current = run[0]  # what fails while storing is not known
        resources = writes.create_all(store, news)
        for operation, resource in zip(run, resources, strict=True):
            if operation.bulk_id in attempt.waiting:
                attempt.created[operation.bulk_id] = resource.id
                attempt.waiting.discard(operation.bulk_id)
        return resources

    def _apply(self, operation: BulkOperation, attempt: _Attempt) -> Resource:
        """Resolve the references of one operation and write it."""
        attempt.current = operation
        if operation.problem is not None:
            raise operation.problem
        ids = self._resolve(operation, attempt)
        data = substitute(operation.data, ids) if ids else operation.data

        later: list[dict[str, Any]] = []
        if attempt.waiting & operation.references.deferrable:
            data, later = defer_members(data, MEMBERS, attempt.waiting)
        resource = self._write(operation, data, ids)
        if later:
            attempt.deferred.append((operation, resource, later))
        if operation.method == "POST" and operation.bulk_id in attempt.waiting:
            attempt.created[operation.bulk_id] = resource.id
            attempt.waiting.discard(operation.bulk_id)
        return resource

    def _resolve(self, operation: BulkOperation, attempt: _Attempt) -> dict[str, str]:
        """Map the operation's bulkIds to ids; 409 for one that cannot be."""
        ids: dict[str, str] = {}
        for bulk_id in sorted(operation.references.all):
            found = attempt.id_of(bulk_id)
            if found is not None:
                ids[bulk_id] = found
            elif bulk_id in attempt.waiting & operation.references.deferrable:
                continue  # A Group member of the same circle, added after.
            elif bulk_id in self.declared:
                raise Conflict(
                    f"bulkId '{bulk_id}' refers to an operation that failed."
                )
            else:
                raise Conflict(f"No operation of this request has bulkId '{bulk_id}'.")
        return ids

    def _write(
        self, operation: BulkOperation, data: Any, ids: dict[str, str]
    ) -> Resource:
        store = self._store(operation)
        resource_id = str(substitute(operation.resource_id, ids))
        if operation.method == "POST":
            return writes.create_resource(store, data)
        if operation.method == "PUT":
            return writes.replace_resource(store, resource_id, data, operation.version)
        if operation.method == "PATCH":
            return writes.patch_resource(store, resource_id, data, operation.version)
        return writes.delete_resource(store, resource_id, operation.version)

    def _add_deferred_members(self, attempt: _Attempt) -> None:
        """Add the Group members that waited for the rest of their circle."""
        for operation, group, members in attempt.deferred:
            attempt.current = operation
            store = self._store(operation)
            attribute = members_attribute(store.resource_type)
            if attribute is not None:
                resolved = substitute(members, attempt.created)
                store.add_members(group, validate_members(attribute, resolved))

    def _check_transaction(self, attempt: _Attempt) -> None:
        """Fail the whole request if a failed write rolled back the transaction."""
        if self.root is None or self.root.is_active:
            return
        name = attempt.current.name if attempt.current else "an operation"
        raise Conflict(
            f"{name[0].upper()}{name[1:]} conflicted with a change made meanwhile, "
            "and no operation of this bulk request was applied; send it again."
        )

    def _step_failed(
        self, operations: list[BulkOperation], attempt: _Attempt, error: ScimError
    ) -> list[Outcome]:
        failing = attempt.current
        others = Conflict(
            "Not applied: it forms a circular reference with "
            f"{failing.name if failing else 'an operation'}, which failed."
        )
        return [
            self._failed(op, error if op is failing else others) for op in operations
        ]

    def _succeeded_all(
        self, operations: list[BulkOperation], resources: list[Resource]
    ) -> list[Outcome]:
        pairs = zip(operations, resources, strict=True)
        return [self._succeeded(operation, resource) for operation, resource in pairs]

    def _succeeded(self, operation: BulkOperation, resource: Resource) -> Outcome:
        resource_type = self._store(operation).resource_type
        deleted = operation.method == "DELETE"
        view = current_view()
        shown = (
            resource.id if view is None else view.shown_id(resource_type, resource.id)
        )
        return Outcome(
            operation,
            SUCCESS_STATUS[operation.method],
            location(self.base_url, resource_type, shown),
            None if deleted else etag(resource),
        )

    def _failed(self, operation: BulkOperation, error: ScimError) -> Outcome:
        """§3.7.3: a failed operation has a location, unless it is a POST."""
        target = substitute(operation.resource_id, self.created)
        place = None
        if (
            operation.resource_type is not None
            and target
            and operation.method != "POST"
        ):
            place = location(self.base_url, operation.resource_type, str(target))
        return Outcome(operation, error.status, place, error=error)

    def _store(self, operation: BulkOperation) -> ResourceStore:
        if operation.resource_type is None:
            raise InvalidSyntax(f"{operation.name} names no resource type.")
        return self.stores[operation.resource_type.name]


def _take_batch(
    pending: deque[Step], size: int, operations: list[BulkOperation]
) -> list[Step]:
    """Take up to ``size`` steps of one operation each that is not known to fail.

    A circular step, or an operation that cannot succeed, is taken alone.
    """
    batch = [pending.popleft()]
    while pending and len(batch) < size and _batchable(batch[-1], operations):
        if not _batchable(pending[0], operations):
            break
        batch.append(pending.popleft())
    return batch


def _batchable(step: Step, operations: list[BulkOperation]) -> bool:
    return not step.circular and operations[step.operations[0]].problem is None


def _plain_post_type(operation: BulkOperation) -> str | None:
    """The resource type of a POST that refers to no bulkId; None for others."""
    plain = (
        operation.method == "POST"
        and operation.problem is None
        and not operation.references.all
    )
    if not plain or operation.resource_type is None:
        return None
    return operation.resource_type.name


def _position(operations: list[BulkOperation], failed: BulkOperation | None) -> int:
    """Where in ``operations`` the one that failed is (the first if not known)."""
    found = (n for n, operation in enumerate(operations) if operation is failed)
    return next(found, 0)


def _declared_by(operations: list[BulkOperation]) -> set[str]:
    """The bulkIds that the POSTs among ``operations`` declare."""
    return {
        op.bulk_id
        for op in operations
        if op.method == "POST" and op.bulk_id and op.problem is None
    }


def _as_scim_error(error: Exception) -> ScimError:
    if isinstance(error, ScimError):
        return error
    logger.error("bulk operation failed in the database", exc_info=error)
    return InternalError("The server failed to apply this operation; it was logged.")
