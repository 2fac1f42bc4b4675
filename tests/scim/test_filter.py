"""SCIM filters (RFC 7644 §3.4.2.2): parsing, and SQL on SQLite and PostgreSQL.

Also the sort keys of ``sortBy`` (§3.4.2.3), which read the same storage.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, insert, select, text
from sqlalchemy.orm import Session

from scimserver.models import Base, Membership, Resource, ResourceValue
from scimserver.scim.errors import InvalidFilter, InvalidValue
from scimserver.scim.filter import (
    AttributeReference,
    Comparison,
    Logical,
    Negation,
    ValuePath,
    filter_clause,
    membership_condition,
    parse_filter,
)
from scimserver.scim.schema import ResourceType, SchemaRegistry, parse_schema
from scimserver.scim.sorting import sort_key
from scimserver.scim.value_index import index_values

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PG_SCHEMA = "filter_units"

REGISTRY = SchemaRegistry.load(SCHEMAS)


def resource_type(name: str) -> ResourceType:
    found = REGISTRY.resource_type(name)
    assert found is not None
    return found


METRICS = "urn:scimserver:test:2.0:Metrics"
GROUP = resource_type("Group")
USER = replace(
    resource_type("User"),
    extensions=(
        *resource_type("User").extensions,
        (
            parse_schema(
                {
                    "id": METRICS,
                    "attributes": [
                        {"name": "loginCount", "type": "integer"},
                        {"name": "score", "type": "decimal"},
                    ],
                }
            ),
            False,
        ),
    ),
)
COUNT = f"{METRICS}:loginCount"
SCORE = f"{METRICS}:score"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


#: (id, userName, externalId, displayName, created, lastModified, document)
USERS: list[tuple[str, str, str | None, str | None, str, str, dict[str, Any]]] = [
    (
        "u1",
        "bjensen",
        "E-1",
        "Babs Jensen",
        "2011-05-13T04:42:34Z",
        "2020-01-01T10:00:00Z",
        {
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "title": "Tour Guide",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": True},
                {"value": "aabs@jensen.org", "type": "home"},
            ],
            "active": True,
            ENTERPRISE: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "u3"},
            },
            METRICS: {"loginCount": 5, "score": 1.5},
        },
    ),
    (
        "u2",
        "JSmith",
        "e-1",
        None,
        "2012-01-01T00:00:00+02:00",
        "2020-06-01T12:00:00Z",
        {
            "name": {"givenName": "John", "familyName": "O'Malley"},
            "title": "50% off_sale",
            "emails": [
                {"value": "john@work.example.com", "type": "work"},
                {"value": "j_smith@example.org", "type": "home"},
            ],
            "active": False,
            "nickName": 'Jo "the" \\ one/',
            METRICS: {"loginCount": -2, "score": 0.5},
        },
    ),
    (
        "u3",
        "alice",
        None,
        "Alice",
        "2013-03-03T03:03:03Z",
        "2021-01-01T00:00:00Z",
        {
            "name": {"familyName": "Liddell"},
            "emails": [{"value": "alice@example.com", "type": "other"}],
            "title": "50 percent",
            ENTERPRISE: {"department": "hr"},
        },
    ),
]

#: (id, displayName, member ids)
GROUPS = [("g1", "Admins", ["u1", "u2"]), ("g2", "Staff", ["u3", "g1"])]


def insert_users(session: Session) -> None:
    for uid, user_name, external_id, display, created, modified, body in USERS:
        document = {"userName": user_name, **body}
        session.add(
            Resource(
                id=uid,
                resource_type="User",
                user_name=user_name,
                external_id=external_id,
                display_name=display,
                created=moment(created),
                last_modified=moment(modified),
                attributes=document,
            )
        )
        session.flush()
        rows = index_values(USER, document)
        session.execute(
            insert(ResourceValue), [{**r, "resource_id": uid} for r in rows]
        )


def insert_groups(session: Session) -> None:
    kinds = {uid: "User" for uid, *_rest in USERS} | {"g1": "Group", "g2": "Group"}
    for gid, display, _members in GROUPS:
        session.add(
            Resource(
                id=gid,
                resource_type="Group",
                display_name=display,
                created=moment("2015-01-01T00:00:00Z"),
                last_modified=moment("2015-01-01T00:00:00Z"),
                attributes={"displayName": display},
            )
        )
    session.flush()
    for gid, _display, members in GROUPS:
        for member in members:
            session.add(
                Membership(group_id=gid, member_id=member, member_type=kinds[member])
            )


#: A linguistic collation, as production databases often have: filters and sort
#: keys must still compare text by code point.
LINGUISTIC = "und-x-icu"
TEXT_COLUMNS = {
    "scim_resources": {
        "external_id": "varchar(2048)",
        "user_name": "varchar(2048)",
        "display_name": "varchar(2048)",
    },
    "scim_resource_values": {"text_value": "text"},
}


@contextmanager
def open_engine(request: pytest.FixtureRequest, schema: str) -> Iterator[Engine]:
    """An engine with empty tables on ``request.param`` (sqlite or postgresql).

    On PostgreSQL the tables live in their own schema, dropped afterwards, and
    their text columns use a linguistic collation when the server has one.
    """
    if request.param == "sqlite":
        engine = create_engine("sqlite://")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return

    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url, connect_args={"options": f"-c search_path={schema}"})
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
        Base.metadata.create_all(connection)
        _use_linguistic_collation(connection)
    yield engine

    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _use_linguistic_collation(connection: Connection) -> None:
    found = connection.scalar(
        text("SELECT count(*) FROM pg_collation WHERE collname = :name"),
        {"name": LINGUISTIC},
    )
    if not found:
        return
    for table, columns in TEXT_COLUMNS.items():
        for column, sql_type in columns.items():
            connection.execute(
                text(
                    f"ALTER TABLE {table} ALTER COLUMN {column} "
                    f'TYPE {sql_type} COLLATE "{LINGUISTIC}"'
                )
            )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Three users and two groups, on each backend."""
    with open_engine(request, PG_SCHEMA) as engine:
        with Session(engine) as session:
            insert_users(session)
            insert_groups(session)
            session.commit()
        yield engine


def selected(engine: Engine, kind: ResourceType, filter_text: str) -> list[str]:
    query = (
        select(Resource.id)
        .where(Resource.resource_type == kind.name, filter_clause(kind, filter_text))
        .order_by(Resource.id)
    )
    with Session(engine) as session:
        return list(session.scalars(query))


# --- Parsing -------------------------------------------------------------------


def attr(name: str, op: str, value: Any = None, sub: str | None = None) -> Comparison:
    return Comparison(AttributeReference(name, sub), op, value)


A, B, C = attr("a", "pr"), attr("b", "pr"), attr("c", "pr")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a pr or b pr and c pr", Logical("or", (A, Logical("and", (B, C))))),
        ("a pr and b pr or c pr", Logical("or", (Logical("and", (A, B)), C))),
        ("a pr and (b pr or c pr)", Logical("and", (A, Logical("or", (B, C))))),
        ("not (a pr) and b pr", Logical("and", (Negation(A), B))),
        ("not (a pr or b pr)", Negation(Logical("or", (A, B)))),
        ("a pr or b pr or c pr", Logical("or", (A, B, C))),
        ("((a pr))", A),
        ("a PR Or b Pr AND c pR", Logical("or", (A, Logical("and", (B, C))))),
        ("NOT (a pr)", Negation(A)),
    ],
)
def test_logical_precedence_is_not_and_or(text: str, tree: Any) -> None:
    assert parse_filter(text) == tree


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("7", 7),
        ("0", 0),
        ("42", 42),
        ("-12", -12),
        ("3.25", 3.25),
        ("1e3", 1000.0),
        ("-2.5E-2", -0.025),
        ("true", True),
        ("false", False),
        ("null", None),
        ('"plain"', "plain"),
        ('"a\\"b"', 'a"b'),
        ('"back\\\\slash"', "back\\slash"),
        ('"\\u00e9t\\u00E9"', "été"),
        ('"tab\\there\\nnewline\\/"', "tab\there\nnewline/"),
        ('""', ""),
        ('"and or not ) ] ["', "and or not ) ] ["),
    ],
)
def test_json_values(literal: str, value: Any) -> None:
    assert parse_filter(f"x eq {literal}") == attr("x", "eq", value)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("nullable pr", attr("nullable", "pr")),
        ("trueName eq false", attr("trueName", "eq", False)),
        ("falsehood eq null", attr("falsehood", "eq", None)),
        ('name.givenName eq "x"', attr("name", "eq", "x", "givenName")),
        (
            f'{ENTERPRISE}:manager.value eq "x"',
            Comparison(AttributeReference("manager", "value", ENTERPRISE), "eq", "x"),
        ),
        (
            'emails[type eq "work" and value co "@x"]',
            ValuePath(
                AttributeReference("emails"),
                Logical("and", (attr("type", "eq", "work"), attr("value", "co", "@x"))),
            ),
        ),
        (
            'emails[(type eq "a" or type eq "b") and not (value pr)]',
            ValuePath(
                AttributeReference("emails"),
                Logical(
                    "and",
                    (
                        Logical(
                            "or", (attr("type", "eq", "a"), attr("type", "eq", "b"))
                        ),
                        Negation(attr("value", "pr")),
                    ),
                ),
            ),
        ),
        (
            'emails[type eq "work"].value ew "x"',
            ValuePath(
                AttributeReference("emails"),
                Logical("and", (attr("type", "eq", "work"), attr("value", "ew", "x"))),
            ),
        ),
    ],
)
def test_paths_and_value_paths(text: str, tree: Any) -> None:
    assert parse_filter(text) == tree


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("userName eq", "ends too early"),
        ('userName eq "x" and', "ends too early"),
        ('(userName eq "a"', "ends too early"),
        ('emails[type eq "work"', "ends too early"),
        ('userName eq "x")', "Unexpected ')' at position 16"),
        ('userName eq "x" title pr', "Unexpected 'title' at position 17"),
        ('userName "x"', "Unexpected '\"x\"' at position 10"),
        ('userName regex "a"', "Unexpected 'regex' at position 10"),
        ("userName eq 012", "Unexpected '12' at position 14"),
        ('userName ~ "x"', "Unexpected character '~' at position 10"),
        ('userName eq "open', "Invalid string at position 13"),
        ('userName eq "bad \\x escape"', "Invalid string at position 13"),
        ("userName eq 'single'", "Unexpected character ''' at position 13"),
        ('userName eq "\\ud800"', "unpaired"),
        ('userName eq "\\u0000"', "NUL"),
        ('not userName eq "x"', "Unexpected 'userName' at position 5"),
        ('emails[type eq "a"][value eq "b"]', "nested"),
        ('emails[type[value eq "b"]]', "nested"),
        ('emails.value[type eq "a"]', "not on one of its sub-attributes"),
        ('emails[type eq "a"] eq "b"', "Compare a sub-attribute"),
    ],
)
def test_syntax_errors_are_invalid_filter(text: str, message: str) -> None:
    with pytest.raises(InvalidFilter, match="(?i)" + re.escape(message)) as error:
        filter_clause(USER, text)

    assert error.value.scim_type == "invalidFilter"
    assert error.value.status == 400


def test_a_deeply_nested_filter_is_refused_not_crashed() -> None:
    text = "not (" * 1000 + "title pr" + ")" * 1000

    with pytest.raises(InvalidFilter, match="nested too deeply"):
        filter_clause(USER, text)


def test_the_bundled_sql_transpiler_is_never_loaded() -> None:
    program = (
        "import sys\n"
        "from scimserver.scim.schema import SchemaRegistry\n"
        "from scimserver.scim.filter import filter_clause\n"
        f"user = SchemaRegistry.load({str(SCHEMAS)!r}).resource_type('User')\n"
        'filter_clause(user, \'userName eq "x" or emails[type eq "w"]\')\n'
        "loaded = [m for m in sys.modules if 'transpiler' in m]\n"
        "assert 'scim2_filter_parser.parser' in sys.modules\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr


# --- Translation: every operator (RFC 7644 §3.4.2.2, Table 3) ------------------


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        # eq, with the case rules of caseExact
        ('userName eq "BJENSEN"', ["u1"]),
        ('userName eq "jsmith"', ["u2"]),
        (f'{CORE_USER}:userName eq "Alice"', ["u3"]),
        ('externalId eq "E-1"', ["u1"]),
        ('externalId eq "e-1"', ["u2"]),
        ('id eq "u2"', ["u2"]),
        ('name.familyName eq "o\'malley"', ["u2"]),
        ('displayName eq "babs jensen"', ["u1"]),
        ('nickName eq "jo \\"THE\\" \\\\ one/"', ["u2"]),
        ('meta.resourceType eq "User"', ["u1", "u2", "u3"]),
        ('meta.resourceType eq "user"', []),
        # attribute names, URNs and operators are case-insensitive
        ('USERNAME EQ "alice"', ["u3"]),
        ('EMAILS[TYPE eq "work" and Value co "@example.com"]', ["u1"]),
        (f'{ENTERPRISE.upper()}:DEPARTMENT eq "HR"', ["u3"]),
        # ne: the negation of eq, so absent values match
        ('userName ne "bjensen"', ["u2", "u3"]),
        ('externalId ne "E-1"', ["u2", "u3"]),
        ('displayName ne "alice"', ["u1", "u2"]),
        ('emails.type ne "work"', ["u3"]),
        ('title ne "tour guide"', ["u2", "u3"]),
        # co / sw / ew, with LIKE wildcards taken literally
        ('userName co "SMI"', ["u2"]),
        ('emails co "example.com"', ["u1", "u2", "u3"]),
        ('emails.value co "_"', ["u2"]),
        ('title co "%"', ["u2"]),
        ('title co "50%"', ["u2"]),
        ('title sw "50 "', ["u3"]),
        ('title co "f_s"', ["u2"]),
        ('title co "ff_"', ["u2"]),
        ('nickName co "/"', ["u2"]),
        ('nickName ew "one/"', ["u2"]),
        ('nickName co "\\\\"', ["u2"]),
        ('userName sw "J"', ["u2"]),
        ('userName ew "E"', ["u3"]),
        ('externalId co "E"', ["u1"]),
        ('externalId sw "e"', ["u2"]),
        ('externalId ew "-1"', ["u1", "u2"]),
        ('externalId co ""', ["u1", "u2"]),
        ('id sw "U"', []),
        (f'{ENTERPRISE}:department co "OPER"', ["u1"]),
        # pr
        ("title pr", ["u1", "u2", "u3"]),
        ("nickName pr", ["u2"]),
        ("externalId pr", ["u1", "u2"]),
        ("displayName pr", ["u1", "u3"]),
        ("name pr", ["u1", "u2", "u3"]),
        ("emails pr", ["u1", "u2", "u3"]),
        (f"{ENTERPRISE}:manager pr", ["u1"]),
        (f"{ENTERPRISE}:manager.value pr", ["u1"]),
        ("active pr", ["u1", "u2"]),
        # gt / ge / lt / le: strings by code point, case-folded unless caseExact
        ('userName gt "B"', ["u1", "u2"]),
        ('userName ge "JSMITH"', ["u2"]),
        ('userName lt "b"', ["u3"]),
        ('userName le "alice"', ["u3"]),
        ('externalId lt "e"', ["u1"]),
        ('name.familyName gt "l"', ["u2", "u3"]),
        # dateTimes as instants, whatever the offset
        ('meta.created gt "2012-01-01T00:59:00+03:00"', ["u2", "u3"]),
        ('meta.created ge "2011-12-31T22:00:00Z"', ["u2", "u3"]),
        ('meta.created gt "2011-12-31T22:00:00Z"', ["u3"]),
        ('meta.created eq "2012-01-01T00:00:00+02:00"', ["u2"]),
        ('meta.created eq "2011-12-31T22:00:00Z"', ["u2"]),
        ('meta.lastModified lt "2020-06-01T14:00:00+02:00"', ["u1"]),
        ('meta.lastModified le "2020-06-01T14:00:00+02:00"', ["u1", "u2"]),
        # numbers
        (f"{COUNT} eq 5", ["u1"]),
        (f"{COUNT} eq 5.0", ["u1"]),
        (f"{COUNT} ne 5", ["u2", "u3"]),
        (f"{COUNT} gt 0", ["u1"]),
        (f"{COUNT} ge -2", ["u1", "u2"]),
        (f"{COUNT} lt 1e1", ["u1", "u2"]),
        (f"{COUNT} le -2", ["u2"]),
        (f"{COUNT} lt -2.5E0", []),
        (f"{COUNT} eq null", ["u3"]),
        (f"{SCORE} gt 0.5", ["u1"]),
        (f"{SCORE} le 0.5", ["u2"]),
        # booleans
        ("active eq true", ["u1"]),
        ("active eq false", ["u2"]),
        ("active ne true", ["u2", "u3"]),
        ("emails.primary eq true", ["u1"]),
        # null
        ("active eq null", ["u3"]),
        ("active ne null", ["u1", "u2"]),
        ("externalId eq null", ["u3"]),
        ("nickName ne null", ["u2"]),
        # value paths: every condition holds for the same value
        ('emails[type eq "work" and value co "@example.com"]', ["u1"]),
        ('emails[type eq "work" and value co "example.com"]', ["u1", "u2"]),
        ('emails[type eq "home" and value co "example.org"]', ["u2"]),
        ('emails[type eq "work" and primary eq true]', ["u1"]),
        ('emails[not (type eq "work")]', ["u1", "u2", "u3"]),
        ('emails[type ne "home" and primary ne true]', ["u2", "u3"]),
        ('emails[type eq "work"].value ew ".org"', []),
        ('emails[type eq "home"].value ew ".org"', ["u1", "u2"]),
        ('emails[(type eq "other" or type eq "home") and value sw "j"]', ["u2"]),
        (f'{ENTERPRISE}:manager[value eq "U3"]', ["u1"]),
        ('name[givenName sw "b" and familyName eq "jensen"]', ["u1"]),
        ('name[givenName sw "b" and familyName eq "smith"]', []),
        # logical operators and grouping
        ('userName eq "alice" or userName eq "jsmith" and active eq true', ["u3"]),
        ('(userName eq "alice" or userName eq "jsmith") and active eq false', ["u2"]),
        ('not (emails co "example.com")', []),
        ('not (emails co "jensen.org")', ["u2", "u3"]),
        ('not (title pr) or title sw "tour"', ["u1"]),
        ("not (not (active eq true))", ["u1"]),
        (
            'title pr and (emails co "example.com" or emails.value co "example.org")',
            ["u1", "u2", "u3"],
        ),
        (
            'userName ne "alice" and not (emails.type eq "work" and active eq true)',
            ["u2"],
        ),
        # RFC 7644 §3.4.2.2 examples
        ('title pr and userType eq "Employee"', []),
        ('userType eq "Employee" and emails[type eq "work"]', []),
    ],
)
def test_users_filter(engine: Engine, filter_text: str, expected: list[str]) -> None:
    assert selected(engine, USER, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('displayName eq "ADMINS"', ["g1"]),
        ('displayName sw "st"', ["g2"]),
        ("members pr", ["g1", "g2"]),
        ('members eq "u1"', ["g1"]),
        ('members.value eq "g1"', ["g2"]),
        ('members.value ne "u1"', ["g2"]),
        ('members.type eq "group"', ["g2"]),
        ('members.display eq "BABS JENSEN"', ["g1"]),
        ('members.display eq "jsmith"', ["g1"]),
        ('members.display co "adm"', ["g2"]),
        ('members[type eq "User" and display sw "ali"]', ["g2"]),
        ('members[type eq "Group" and display sw "ali"]', []),
        ('members[not (type eq "User")]', ["g2"]),
        ("members.display eq null", []),
    ],
)
def test_groups_filter(engine: Engine, filter_text: str, expected: list[str]) -> None:
    assert selected(engine, GROUP, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('groups.value eq "g1"', ["u1", "u2"]),
        ('groups eq "g2"', ["u3"]),
        ('groups.display eq "admins"', ["u1", "u2"]),
        ('groups.type eq "direct"', ["u1", "u2", "u3"]),
        ('groups.type eq "indirect"', []),
        ('groups[display sw "st" and type eq "direct"]', ["u3"]),
        ("groups pr", ["u1", "u2", "u3"]),
    ],
)
def test_users_filter_on_groups(
    engine: Engine, filter_text: str, expected: list[str]
) -> None:
    assert selected(engine, USER, filter_text) == expected


@pytest.mark.parametrize(
    ("value_filter", "expected"),
    [
        ('members[value eq "u2"]', ["u2"]),
        ('members[type eq "user"]', ["u1", "u2"]),
        ('members[display co "jensen" or display eq "JSMITH"]', ["u1", "u2"]),
        ('members[not (value eq "u1")]', ["u2"]),
        ("members[display eq null]", []),
    ],
)
def test_membership_condition_selects_rows_of_one_group(
    engine: Engine, value_filter: str, expected: list[str]
) -> None:
    value_path = parse_filter(value_filter)
    assert isinstance(value_path, ValuePath)
    query = (
        select(Membership.member_id)
        .where(Membership.group_id == "g1", membership_condition(GROUP, value_path))
        .order_by(Membership.member_id)
    )

    with Session(engine) as session:
        assert list(session.scalars(query)) == expected


def test_membership_condition_needs_members() -> None:
    value_path = parse_filter('displayName[value eq "x"]')
    assert isinstance(value_path, ValuePath)

    with pytest.raises(InvalidFilter, match="complex"):
        membership_condition(GROUP, value_path)


def test_sixty_or_terms(engine: Engine) -> None:
    terms = [f'userName eq "nobody{n}"' for n in range(59)]
    terms.append('emails[type eq "other" and value sw "alice"]')

    assert selected(engine, USER, " or ".join(terms)) == ["u3"]


def test_a_syntax_tree_is_accepted_too(engine: Engine) -> None:
    tree = parse_filter('userName eq "alice"')
    query = select(Resource.id).where(filter_clause(USER, tree))

    with Session(engine) as session:
        assert list(session.scalars(query)) == ["u3"]


# --- Refused filters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "filter_text", "message"),
    [
        (USER, 'noSuchAttribute eq "x"', "Unknown attribute 'noSuchAttribute'"),
        (USER, 'name.nickName eq "x"', "no sub-attribute 'nickName'"),
        (USER, 'urn:example:nope:title eq "x"', "Unknown schema"),
        (GROUP, 'userName eq "x"', "Unknown attribute 'userName'"),
        (USER, 'members.value eq "x"', "Unknown attribute 'members.value'"),
        (USER, "title pr and nosuch pr", "Unknown attribute 'nosuch'"),
        (USER, "active gt true", "'gt' cannot compare boolean attribute 'active'"),
        (USER, "emails.primary le false", "cannot compare boolean"),
        (USER, 'active co "t"', "'co' applies to strings"),
        (USER, 'meta.lastModified sw "2011"', "'sw' applies to strings"),
        (USER, "userName eq 5", "'userName' is of type string"),
        (USER, 'active eq "true"', "'active' is of type boolean"),
        (USER, 'meta.created gt "yesterday"', "'meta.created' is a dateTime"),
        (USER, "userName gt null", "'gt' cannot compare 'userName' with null"),
        (USER, "userName co null", "cannot compare 'userName' with null"),
        (USER, 'password eq "secret"', "'password' is never returned"),
        (USER, "password pr", "'password' is never returned"),
        (USER, 'x509Certificates.value eq "TUlJ"', "is binary"),
        (USER, 'x509Certificates eq "TUlJ"', "is binary"),
        (USER, 'name eq "Barbara"', "'name' is complex"),
        (USER, 'meta.location eq "x"', "'meta.location' cannot be filtered"),
        (USER, 'meta.version eq "x"', "'meta.version' cannot be filtered"),
        (USER, "meta pr", "'meta' cannot be filtered"),
        (USER, 'userName[value eq "x"]', "apply to complex attributes"),
        (USER, 'emails[nosuch eq "x"]', "'emails' has no sub-attribute 'nosuch'"),
        (USER, 'emails[type.value eq "x"]', "name sub-attributes of 'emails' only"),
        (
            USER,
            f'emails[{CORE_USER}:userName eq "x"]',
            "name sub-attributes of 'emails' only",
        ),
        (GROUP, 'members.$ref eq "x"', "filter on 'members.value'"),
        (GROUP, 'members[$ref eq "x"]', "filter on 'members.value'"),
        (USER, f'{COUNT} co "5"', "'co' applies to strings"),
        (USER, f'{COUNT} eq "5"', "is of type integer"),
        (USER, f"{COUNT} eq true", "is a number"),
        (USER, f"{COUNT} gt 1e400", "too large"),
        (USER, f"{SCORE} lt -{'9' * 400}", "too large"),
    ],
)
def test_refused_filters_name_the_problem(
    kind: ResourceType, filter_text: str, message: str
) -> None:
    with pytest.raises(InvalidFilter) as error:
        filter_clause(kind, filter_text)

    assert message in error.value.detail
    assert error.value.scim_type == "invalidFilter"


# --- Sorting (RFC 7644 §3.4.2.3) ----------------------------------------------


def sorted_ids(
    engine: Engine, kind: ResourceType, path: str, descending: bool = False
) -> list[str]:
    key = sort_key(kind, path)
    order = key.desc() if descending else key.asc()
    query = (
        select(Resource.id)
        .where(Resource.resource_type == kind.name)
        .order_by(key.is_(None), order, Resource.id)
    )
    with Session(engine) as session:
        return list(session.scalars(query))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("userName", ["u3", "u1", "u2"]),
        ("id", ["u1", "u2", "u3"]),
        ("externalId", ["u1", "u2", "u3"]),
        ("displayName", ["u3", "u1", "u2"]),
        ("name.familyName", ["u1", "u3", "u2"]),
        ("name.givenName", ["u1", "u2", "u3"]),
        ("title", ["u3", "u2", "u1"]),
        ("meta.created", ["u1", "u2", "u3"]),
        ("meta.lastModified", ["u1", "u2", "u3"]),
        ("active", ["u2", "u1", "u3"]),
        ("emails.value", ["u3", "u1", "u2"]),
        ("emails", ["u3", "u1", "u2"]),
        ("emails.type", ["u2", "u3", "u1"]),
        (f"{ENTERPRISE}:department", ["u3", "u1", "u2"]),
        ("nickName", ["u2", "u1", "u3"]),
    ],
)
def test_sort_ascending_puts_missing_values_last(
    engine: Engine, path: str, expected: list[str]
) -> None:
    assert sorted_ids(engine, USER, path) == expected


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        (
            "emails.value",
            ["bjensen@example.com", "j_smith@example.org", "alice@example.com"],
        ),
        ("emails.type", ["work", "home", "other"]),
        ("emails.primary", [1, None, None]),
        ("name.familyName", ["jensen", "o'malley", "liddell"]),
        ("active", [True, False, None]),
        ("title", ["tour guide", "50% off_sale", "50 percent"]),
    ],
)
def test_sort_key_is_the_primary_value_else_the_smallest(
    engine: Engine, path: str, keys: list[Any]
) -> None:
    query = select(sort_key(USER, path)).where(Resource.resource_type == "User")

    with Session(engine) as session:
        assert list(session.scalars(query.order_by(Resource.id))) == keys


def test_sort_descending(engine: Engine) -> None:
    assert sorted_ids(engine, USER, "userName", descending=True) == ["u2", "u1", "u3"]
    assert sorted_ids(engine, GROUP, "displayName", descending=True) == ["g2", "g1"]


@pytest.mark.parametrize(
    "path",
    ["noSuch", "name", "password", "x509Certificates.value", "meta.location", "groups"],
)
def test_unsortable_paths_are_invalid_value(path: str) -> None:
    with pytest.raises(InvalidValue, match="Cannot sort by"):
        sort_key(USER, path)
