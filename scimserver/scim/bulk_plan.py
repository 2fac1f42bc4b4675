"""``bulkId`` references and the order of a Bulk request's operations.

RFC 7644 §3.7.2: a value ``bulkId:x`` anywhere in an operation's ``data``, or as
the id in its ``path``, stands for the resource that the POST with ``bulkId`` x of
the same request creates. Operations run in the order of the request, except that
such a POST runs before the first operation that needs it (§3.7: the client's
intent is kept, whatever the order of the operations).

Operations that need each other form a circular reference (§3.7.1). They run
together, as one step that succeeds or fails as a whole. The server resolves the
circle when the references that close it are Group ``members``: the group is
created first and those members are added once they exist, as in the RFC's
example of two groups that hold each other. Any other circle, such as two users
who are each other's manager, cannot be resolved and its operations fail with 409.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

BULK_ID_PREFIX = "bulkId:"


@dataclass(frozen=True)
class References:
    """The bulkIds one operation refers to.

    ``needed`` must be created before the operation runs. ``deferrable`` appear
    only as the ``value`` of Group ``members`` in a POST or PUT; within a circular
    reference they may be added after the group is written.
    """

    needed: frozenset[str] = frozenset()
    deferrable: frozenset[str] = frozenset()

    @property
    def all(self) -> frozenset[str]:
        """Every bulkId the operation refers to."""
        return self.needed | self.deferrable


@dataclass(frozen=True)
class Step:
    """Operations that run together, in this order, and succeed or fail together.

    A step holds one operation, or every operation of a circular reference.
    ``resolvable`` is False for a circle that only Group members cannot break.
    """

    operations: tuple[int, ...]
    circular: bool = False
    resolvable: bool = True


def bulk_id_of(value: Any) -> str | None:
    """Return ``x`` when ``value`` is the reference ``bulkId:x``, else None."""
    if isinstance(value, str) and value.startswith(BULK_ID_PREFIX):
        return value[len(BULK_ID_PREFIX) :]
    return None


def find_references(
    resource_id: str | None, data: Any, members: str | None = None
) -> References:
    """Collect the bulkIds in an operation's resource id and ``data``.

    ``members`` names the attribute whose ``value`` references may be deferred;
    None when the operation cannot defer any (it is not a Group POST or PUT).
    """
    needed: set[str] = set()
    deferrable: set[str] = set()
    _collect(resource_id, needed)

    if members is None or not isinstance(data, dict):
        _collect(data, needed)
        return References(frozenset(needed))
    for key, value in data.items():
        if key.lower() == members.lower():
            _collect_members(value, needed, deferrable)
        else:
            _collect(value, needed)
    return References(frozenset(needed), frozenset(deferrable - needed))


def substitute(value: Any, ids: Mapping[str, str]) -> Any:
    """Return a copy of ``value`` with each ``bulkId:x`` in ``ids`` replaced."""
    if isinstance(value, str):
        bulk_id = bulk_id_of(value)
        return ids.get(bulk_id, value) if bulk_id is not None else value
    if isinstance(value, list):
        return [substitute(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, ids) for key, item in value.items()}
    return value


def defer_members(
    data: dict[str, Any], members: str, waiting: Iterable[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Take out of ``data`` the members that refer to a bulkId in ``waiting``.

    Returns the rest of ``data`` and the members taken out, to add later.
    """
    waiting = set(waiting)
    kept: dict[str, Any] = {}
    later: list[dict[str, Any]] = []
    for key, value in data.items():
        if key.lower() != members.lower() or not isinstance(value, list):
            kept[key] = value
            continue
        now = [m for m in value if _member_bulk_id(m) not in waiting]
        later += [m for m in value if _member_bulk_id(m) in waiting]
        kept[key] = now
    return kept, later


def plan_steps(
    references: Sequence[References], defined: Mapping[str, int]
) -> list[Step]:
    """Order the operations into steps; ``defined`` maps a bulkId to its POST.

    Every step comes after the steps it needs; otherwise the request's order holds.
    """
    needs = [
        sorted({defined[ref] for ref in refs.all if ref in defined})
        for refs in references
    ]
    steps = []
    for component in _Components(needs).in_dependency_order():
        circular = len(component) > 1 or component[0] in needs[component[0]]
        if not circular:
            steps.append(Step((component[0],)))
            continue
        order = _order_circle(component, references, defined)
        if order is None:
            logger.info(
                "bulk circular reference not resolvable size=%d", len(component)
            )
            steps.append(Step(tuple(sorted(component)), True, resolvable=False))
        else:
            steps.append(Step(order, circular=True))
    return steps


def _collect(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        bulk_id = bulk_id_of(value)
        if bulk_id is not None:
            into.add(bulk_id)
    elif isinstance(value, list):
        for item in value:
            _collect(item, into)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, into)


def _collect_members(value: Any, needed: set[str], deferrable: set[str]) -> None:
    for member in value if isinstance(value, list) else [value]:
        if not isinstance(member, dict):
            _collect(member, needed)
            continue
        for key, item in member.items():
            bulk_id = bulk_id_of(item) if key.lower() == "value" else None
            if bulk_id is None:
                _collect(item, needed)
            else:
                deferrable.add(bulk_id)


def _member_bulk_id(member: Any) -> str | None:
    if not isinstance(member, dict):
        return None
    values = [v for k, v in member.items() if k.lower() == "value"]
    return bulk_id_of(values[0]) if values else None


def _order_circle(
    component: list[int],
    references: Sequence[References],
    defined: Mapping[str, int],
) -> tuple[int, ...] | None:
    """Order a circle by its ``needed`` references alone; None if they loop too."""
    members = set(component)
    waiting_on = {
        index: {defined[r] for r in references[index].needed if r in defined} & members
        for index in component
    }
    ready = [index for index, needs in waiting_on.items() if not needs]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        done = heapq.heappop(ready)
        order.append(done)
        for index, needs in waiting_on.items():
            if done in needs:
                needs.discard(done)
                if not needs:
                    heapq.heappush(ready, index)
    return tuple(order) if len(order) == len(component) else None


@dataclass
class _Components:
    """Tarjan's strongly connected components, without recursion.

    Components come out after every component they need, so that running them in
    this order runs each operation after the operations it refers to.
    """

    needs: list[list[int]]
    found: list[list[int]] = field(default_factory=list)
    index: dict[int, int] = field(default_factory=dict)
    low: dict[int, int] = field(default_factory=dict)
    stack: list[int] = field(default_factory=list)
    on_stack: set[int] = field(default_factory=set)

    def in_dependency_order(self) -> list[list[int]]:
        """Return the components, each after the components it needs."""
        for root in range(len(self.needs)):
            if root not in self.index:
                self._visit(root)
        return self.found

    def _visit(self, root: int) -> None:
        work = [(root, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                self._enter(node)
            child = self._first_unvisited(node, next_edge)
            if child is not None:
                work.append((node, self.needs[node].index(child) + 1))
                work.append((child, 0))
                continue
            self._leave(node)
            if work:
                parent = work[-1][0]
                self.low[parent] = min(self.low[parent], self.low[node])

    def _enter(self, node: int) -> None:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)

    def _first_unvisited(self, node: int, start: int) -> int | None:
        for target in self.needs[node][start:]:
            if target not in self.index:
                return target
            if target in self.on_stack:
                self.low[node] = min(self.low[node], self.index[target])
        return None

    def _leave(self, node: int) -> None:
        if self.low[node] != self.index[node]:
            return
        component: list[int] = []
        while True:
            member = self.stack.pop()
            self.on_stack.discard(member)
            component.append(member)
            if member == node:
                break
        self.found.append(sorted(component))
