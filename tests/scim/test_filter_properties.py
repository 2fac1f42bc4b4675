"""Property test: SQL filters select what the in-Python reference selects.

Hypothesis generates users and filters from the RFC 7644 §3.4.2.2 grammar; each
filter is rendered to text, parsed and run as SQL on SQLite and on PostgreSQL,
and the result must equal :func:`tests.scim.filter_reference.matches` on the
generated syntax tree (so the parser's precedence is checked too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from scimserver.models import Resource, ResourceValue
from scimserver.scim.filter import (
    AttributeReference,
    Comparison,
    Expression,
    Logical,
    Negation,
    ValuePath,
    filter_clause,
)
from scimserver.scim.schema import ResourceType, SchemaRegistry, parse_schema
from scimserver.scim.value_index import index_values

from .filter_reference import matches
from .test_filter import open_engine

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
METRICS = "urn:scimserver:test:2.0:Metrics"
PG_SCHEMA = "filter_properties"
START = datetime(2024, 1, 1, tzinfo=UTC)

# Small alphabets make matches likely; they hold LIKE wildcards, the LIKE escape
# character, JSON escapes and (where Python folds case) a non-ASCII letter.
ASCII = 'aAbB%_/\\" '
TEXT = ASCII + "éÉ"
TYPES = ["work", "home", "Work", "other"]


def user_type() -> ResourceType:
    """The User resource type plus a test extension with numbers and exact text."""
    registry = SchemaRegistry.load(SCHEMAS)
    user = registry.resource_type("User")
    assert user is not None
    metrics = parse_schema(
        {
            "id": METRICS,
            "attributes": [
                {"name": "loginCount", "type": "integer"},
                {"name": "badge", "type": "string", "caseExact": True},
                {"name": "tags", "type": "string", "multiValued": True},
            ],
        }
    )
    return replace(user, extensions=(*user.extensions, (metrics, False)))


USER = user_type()


def texts(alphabet: str, max_size: int = 3) -> st.SearchStrategy[str]:
    return st.text(alphabet, max_size=max_size)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


emails = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "value": texts(TEXT),
            "type": st.sampled_from(TYPES),
            "primary": st.booleans(),
        },
    ),
    max_size=3,
)

moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2024, 1, 2)
).map(lambda moment: moment.replace(tzinfo=UTC))


@st.composite
def users(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {"userName": draw(texts(ASCII).filter(bool))}
    document["externalId"] = draw(optional(texts(TEXT)))
    document["name"] = {"familyName": draw(optional(texts(TEXT)))}
    document["emails"] = draw(emails)
    document["active"] = draw(optional(st.booleans()))
    document[METRICS] = {
        "loginCount": draw(optional(st.integers(-2, 2))),
        "badge": draw(optional(texts(TEXT))),
        "tags": draw(st.lists(texts(TEXT), max_size=2)),
    }
    document["lastModified"] = draw(moments)
    return document


def reference(path: str) -> AttributeReference:
    if path.startswith(METRICS):
        return AttributeReference(path[len(METRICS) + 1 :], None, METRICS)
    name, _dot, sub = path.partition(".")
    return AttributeReference(name, sub or None)


def text_comparisons(
    path: str, values: st.SearchStrategy[str]
) -> st.SearchStrategy[Expression]:
    operators = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
    return st.one_of(
        st.builds(
            Comparison,
            st.just(reference(path)),
            st.sampled_from(operators),
            values,
        ),
        st.builds(
            Comparison,
            st.just(reference(path)),
            st.sampled_from(["eq", "ne"]),
            st.none(),
        ),
        st.just(Comparison(reference(path), "pr")),
    )


def typed_comparisons(
    path: str, operators: list[str], values: st.SearchStrategy[Any]
) -> st.SearchStrategy[Expression]:
    return st.one_of(
        st.builds(
            Comparison,
            st.just(reference(path)),
            st.sampled_from(operators),
            st.one_of(values, st.none()) if "eq" in operators else values,
        ).filter(lambda c: c.value is not None or c.operator in ("eq", "ne")),
        st.just(Comparison(reference(path), "pr")),
    )


def iso_moments() -> st.SearchStrategy[str]:
    offsets = st.sampled_from([timedelta(0), timedelta(hours=2), timedelta(hours=-5)])
    return st.builds(
        lambda moment, offset: moment.astimezone(timezone(offset)).isoformat(),
        moments,
        offsets,
    )


ORDERS = ["eq", "ne", "gt", "ge", "lt", "le"]
type_values = st.one_of(st.sampled_from([*TYPES, "wo", "ORK"]), texts("workWOh", 2))
numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 1e0, 2.0e-1]))

leaves: st.SearchStrategy[Expression] = st.one_of(
    text_comparisons("userName", texts(ASCII, 2)),
    text_comparisons("externalId", texts(TEXT, 2)),
    text_comparisons("name.familyName", texts(TEXT, 2)),
    text_comparisons("emails.value", texts(TEXT, 2)),
    text_comparisons("emails", texts(TEXT, 2)),
    text_comparisons("emails.type", type_values),
    text_comparisons(f"{METRICS}:badge", texts(TEXT, 2)),
    text_comparisons(f"{METRICS}:tags", texts(TEXT, 2)),
    typed_comparisons("active", ["eq", "ne"], st.booleans()),
    typed_comparisons("emails.primary", ["eq", "ne"], st.booleans()),
    typed_comparisons(f"{METRICS}:loginCount", ORDERS, numbers),
    typed_comparisons("meta.lastModified", ORDERS, iso_moments()),
    st.just(Comparison(reference("emails"), "pr")),
)

item_leaves: st.SearchStrategy[Expression] = st.one_of(
    text_comparisons("value", texts(TEXT, 2)),
    text_comparisons("type", type_values),
    typed_comparisons("primary", ["eq", "ne"], st.booleans()),
)


def combined(
    children: st.SearchStrategy[Expression],
) -> st.SearchStrategy[Expression]:
    return st.one_of(
        st.builds(
            Logical,
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=2, max_size=3).map(tuple),
        ),
        st.builds(Negation, children),
    )


item_conditions = st.recursive(item_leaves, combined, max_leaves=4)
value_paths = st.builds(ValuePath, st.just(reference("emails")), item_conditions)
filters = st.recursive(st.one_of(leaves, value_paths), combined, max_leaves=6)

PRECEDENCE = {"or": 1, "and": 2}


def render(expression: Expression, context: int = 0) -> str:
    """Write a filter with only the parentheses precedence requires."""
    if isinstance(expression, Logical):
        level = PRECEDENCE[expression.operator]
        joined = f" {expression.operator} ".join(
            render(operand, level) for operand in expression.operands
        )
        return f"({joined})" if level <= context else joined
    if isinstance(expression, Negation):
        return f"not ({render(expression.operand)})"
    if isinstance(expression, ValuePath):
        return f"{expression.path}[{render(expression.condition)}]"
    if expression.operator == "pr":
        return f"{expression.path} pr"
    return f"{expression.path} {expression.operator} {json.dumps(expression.value)}"


def store(session: Session, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write users as the repository does; return their full representations."""
    session.execute(delete(ResourceValue))
    session.execute(delete(Resource))
    representations = []
    for number, generated in enumerate(documents):
        document = dict(generated)
        modified = document.pop("lastModified")
        resource_id = f"u{number}"
        session.add(
            Resource(
                id=resource_id,
                resource_type="User",
                user_name=document["userName"],
                external_id=document["externalId"],
                created=START,
                last_modified=modified,
                attributes=document,
            )
        )
        session.flush()
        rows = index_values(USER, document)
        if rows:
            session.execute(
                insert(ResourceValue), [{**r, "resource_id": resource_id} for r in rows]
            )
        meta = {"resourceType": "User", "lastModified": modified.isoformat()}
        representations.append({**document, "id": resource_id, "meta": meta})
    return representations


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine with empty tables, on each backend."""
    with open_engine(request, PG_SCHEMA) as engine:
        yield engine


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    documents=st.lists(
        users(), min_size=2, max_size=6, unique_by=lambda u: u["userName"].lower()
    ),
    expressions=st.lists(filters, min_size=1, max_size=4),
)
def test_sql_selects_what_the_reference_selects(
    engine: Engine, documents: list[dict[str, Any]], expressions: list[Expression]
) -> None:
    with Session(engine) as session:
        resources = store(session, documents)

        for expression in expressions:
            text_filter = render(expression)
            query = select(Resource.id).where(
                Resource.resource_type == "User", filter_clause(USER, text_filter)
            )
            selected = set(session.scalars(query))
            expected = {r["id"] for r in resources if matches(USER, r, expression)}
            assert selected == expected, text_filter
        session.rollback()
