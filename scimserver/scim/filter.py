"""SCIM filters (RFC 7644 §3.4.2.2): parsed, then translated into SQL.

Parsing uses scim2-filter-parser's lexer and parser, corrected by subclassing
(operator precedence, JSON numbers and strings, error positions). Its syntax tree
is turned into the small typed tree below, which :func:`filter_clause` translates
into one SQLAlchemy condition over :class:`~scimserver.models.Resource`, reading
the columns and the value index described in :mod:`scimserver.scim.value_index`.

Semantics, where the RFC leaves room:

- A multi-valued attribute matches when ANY of its values matches (§3.4.2.2), so
  ``emails.value co "x"`` means "some email contains x".
- ``ne`` is the negation of ``eq``: ``emails.type ne "work"`` means "no email has
  type work", and an attribute without a value is not equal to anything, so it
  matches ``ne``. ``eq null`` means the attribute has no value; ``ne null`` means
  it has one (the same as ``pr``).
- ``not (F)`` matches exactly the resources that ``F`` does not match, so
  ``not (emails co "x")`` means "no email contains x".
- Inside a value path ``emails[...]`` the unit is one value of ``emails``: the
  whole condition, ``ne`` and ``not`` included, must hold for the same value.
- Strings compare case-insensitively unless the attribute is ``caseExact``;
  ``gt``/``ge``/``lt``/``le`` order strings by Unicode code point, dateTimes by
  time and numbers by value. Empty strings count as no value.

TODO: filters on ``schemas`` (which §3.4.2.2 lets clients use to find resources
with an extension) are refused as an unknown attribute; supporting them needs
the extension URNs of each resource in the value index.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, NoReturn, Protocol, TypeAlias, TypeVar

from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError
from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from scimserver.models import Membership, Resource, ResourceValue
from scimserver.scim.errors import InvalidFilter, InvalidPath
from scimserver.scim.schema import AttributePath, ResourceType
from scimserver.scim.value_index import (
    NUMBER_TYPES,
    ORDERING,
    SUBSTRING,
    TEXT_TYPES,
    ValueField,
    column_for,
    index_key,
    is_unstored,
    member_fields,
    membership_of,
    membership_rows,
    parse_datetime,
    row_condition,
    value_column,
    value_condition,
)

logger = logging.getLogger(__name__)

CompareValue: TypeAlias = str | int | float | bool | None


_JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_JSON_STRING = r'"(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_WORD_END = r"(?![\w$-])"


@dataclass(frozen=True)
class AttributeReference:
    """An attribute path as written: ``[URN:]name[.subAttribute]``."""

    name: str
    sub_attribute: str | None = None
    urn: str | None = None

    def __str__(self) -> str:
        text = self.name
        if self.sub_attribute is not None:
            text += "." + self.sub_attribute
        return text if self.urn is None else f"{self.urn}:{text}"


@dataclass(frozen=True)
class Comparison:
    """An attrExp: ``path op value`` or ``path pr``."""

    path: AttributeReference
    operator: str
    value: CompareValue = None


@dataclass(frozen=True)
class Logical:
    """``and`` or ``or`` over two or more operands."""

    operator: Literal["and", "or"]
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Negation:
    """``not (...)``."""

    operand: Expression


@dataclass(frozen=True)
class ValuePath:
    """``attribute[condition]``: the condition holds for one value of attribute."""

    path: AttributeReference
    condition: Expression


Expression: TypeAlias = Comparison | Logical | Negation | ValuePath

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _token(pattern: str) -> Callable[[_Method], _Method]:
    """Give a lexer method its pattern, as sly's ``@_`` decorator does."""

    def decorate(method: _Method) -> _Method:
        setattr(method, "pattern", pattern)  # noqa: B010 - sly reads this attribute
        return method

    return decorate


class FilterLexer(SCIMLexer):  # type: ignore[misc]
    """The package's lexer with JSON literals (RFC 7159) and error positions.

    Version 0.7.0 reads one digit as a number, strings without escapes, and
    ``true``/``false``/``null`` even as the start of a longer name.
    """

    tokens = SCIMLexer.tokens

    @_token(r"false" + _WORD_END)
    def FALSE(self, token: Any) -> Any:  # noqa: N802 - sly token names
        token.value = False
        return token

    @_token(r"true" + _WORD_END)
    def TRUE(self, token: Any) -> Any:  # noqa: N802
        token.value = True
        return token

    @_token(r"null" + _WORD_END)
    def NULL(self, token: Any) -> Any:  # noqa: N802
        token.value = None
        return token

    @_token(_JSON_NUMBER)
    def NUMBER(self, token: Any) -> Any:  # noqa: N802
        text = token.value
        is_integer = not any(mark in text for mark in ".eE")
        token.value = int(text) if is_integer else float(text)
        return token

    @_token(_JSON_STRING)
    def COMP_VALUE(self, token: Any) -> Any:  # noqa: N802
        token.value = _decode_string(token.value, token.index)
        return token

    def error(self, token: Any) -> NoReturn:
        position = token.index + 1
        if token.value.startswith('"'):
            raise InvalidFilter(
                f"Invalid string at position {position}: close it with '\"' and "
                "escape quotes and backslashes as in JSON."
            )
        raise InvalidFilter(
            f"Unexpected character '{token.value[0]}' at position {position}."
        )


class FilterParser(SCIMParser):  # type: ignore[misc]
    """The package's parser with the RFC's precedence: not > and > or.

    sly builds a parser only from the rules written in the class body, so the
    package's rules are listed again, unchanged.
    """

    tokens = SCIMParser.tokens
    precedence = (("left", "OR"), ("left", "AND"), ("right", "NOT"))

    filter = SCIMParser.filter
    value_path = SCIMParser.value_path
    attr_exp = SCIMParser.attr_exp
    log_exp = SCIMParser.log_exp
    comp_value = SCIMParser.comp_value
    attr_path = SCIMParser.attr_path
    sub_attr = SCIMParser.sub_attr

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, token: Any) -> NoReturn:
        if token is None:
            raise InvalidFilter("The filter ends too early.")
        written = self.text[token.index : token.end]
        raise InvalidFilter(
            f"Unexpected '{written}' at position {token.index + 1} of the filter."
        )


def parse_filter(text: str) -> Expression:
    """Parse a filter (RFC 7644 §3.4.2.2); raise :class:`InvalidFilter` if invalid."""
    if not text.strip():
        raise InvalidFilter("The filter is empty.")

    try:
        tree = FilterParser(text).parse(FilterLexer().tokenize(text))
        return _convert(tree)
    except SCIMParserError:
        raise InvalidFilter(
            "A value filter is followed by more than one sub-attribute."
        ) from None
    except RecursionError:
        raise InvalidFilter("The filter is nested too deeply.") from None


def filter_clause(
    resource_type: ResourceType, text_or_ast: str | Expression
) -> ColumnElement[bool]:
    """Translate a filter into a condition over :class:`Resource` rows.

    Unknown attributes, unsupported comparisons and invalid values raise
    :class:`InvalidFilter` (RFC 7644 §3.4.2.2, §3.12).
    """
    expression = (
        parse_filter(text_or_ast) if isinstance(text_or_ast, str) else text_or_ast
    )
    try:
        return _translate(expression, _ResourceScope(resource_type))
    except RecursionError:
        raise InvalidFilter("The filter is nested too deeply.") from None


def membership_condition(
    resource_type: ResourceType, value_filter: ValuePath
) -> ColumnElement[bool]:
    """Translate ``members[...]`` into a condition on :class:`Membership` rows.

    PATCH uses it to find the members a value filter selects (RFC 7644 §3.5.2);
    the condition reads the base ``Membership`` entity of the enclosing query.
    """
    parent = _ResourceScope(resource_type).resolve_parent(value_filter.path)
    if membership_of(parent) != "members":
        raise InvalidFilter(f"'{parent}' does not hold group members.")

    peer = aliased(Resource)
    display = (
        select(func.coalesce(peer.display_name, peer.user_name))
        .where(peer.id == Membership.member_id)
        .scalar_subquery()
    )
    fields = member_fields(Membership.member_id, Membership.member_type, display)
    return _translate(value_filter.condition, _MembershipItemScope(parent, fields))


def _decode_string(text: str, index: int) -> str:
    value: str = json.loads(text, strict=False)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFilter(
            f"The string at position {index + 1} holds an unpaired \\u surrogate."
        ) from None
    if "\x00" in value:
        raise InvalidFilter(f"The string at position {index + 1} holds a NUL.")
    return value


def _convert(node: Any) -> Expression:
    if isinstance(node, scim_ast.Filter):
        if node.namespace is not None:
            return _value_path(node)
        inner = _convert(node.expr)
        return Negation(inner) if node.negated else inner
    if isinstance(node, scim_ast.LogExpr):
        return _logical(node)
    if isinstance(node, scim_ast.AttrExpr):
        return _attribute_expression(node)
    raise InvalidFilter("The filter could not be read.")


def _logical(node: Any) -> Logical:
    """Flatten a chain of the same operator, without recursion."""
    operator: Literal["and", "or"] = "and" if node.op.lower() == "and" else "or"
    operands: list[Expression] = []
    pending = [node.expr2, node.expr1]
    while pending:
        child = pending.pop()
        inner = child.expr if _is_plain_group(child) else child
        if isinstance(inner, scim_ast.LogExpr) and inner.op.lower() == operator:
            pending.extend([inner.expr2, inner.expr1])
        else:
            operands.append(_convert(child))
    return Logical(operator, tuple(operands))


def _is_plain_group(node: Any) -> bool:
    return (
        isinstance(node, scim_ast.Filter)
        and node.namespace is None
        and not node.negated
    )


def _value_path(node: Any) -> ValuePath:
    namespace = node.namespace
    if isinstance(namespace.attr_name, scim_ast.Filter):
        raise InvalidFilter("Value filters cannot be nested.")
    if namespace.sub_attr is not None:
        raise InvalidFilter(
            f"Put the value filter on '{namespace.attr_name}', not on one of its "
            "sub-attributes."
        )
    return ValuePath(_reference(namespace), _convert(node.expr))


def _attribute_expression(node: Any) -> Expression:
    operator = node.value.lower()
    value = None if node.comp_value is None else node.comp_value.value
    path = node.attr_path
    if not isinstance(path.attr_name, scim_ast.Filter):
        return Comparison(_reference(path), operator, value)

    # emails[type eq "work"].value eq "x" is read as
    # emails[type eq "work" and value eq "x"].
    value_filter = path.attr_name
    namespace = value_filter.namespace
    if namespace.sub_attr is None or isinstance(namespace.attr_name, scim_ast.Filter):
        raise InvalidFilter("Compare a sub-attribute after a value filter.")
    parent = AttributeReference(namespace.attr_name, None, namespace.uri)
    compared = Comparison(AttributeReference(namespace.sub_attr.value), operator, value)
    condition = Logical("and", (_convert(value_filter.expr), compared))
    return ValuePath(parent, condition)


def _reference(path: Any) -> AttributeReference:
    sub = None if path.sub_attr is None else path.sub_attr.value
    return AttributeReference(path.attr_name, sub, path.uri)


class _Scope(Protocol):
    def comparison(self, comparison: Comparison) -> ColumnElement[bool]: ...

    def value_path(self, value_path: ValuePath) -> ColumnElement[bool]: ...


def _translate(expression: Expression, scope: _Scope) -> ColumnElement[bool]:
    if isinstance(expression, Logical):
        parts = [_translate(operand, scope) for operand in expression.operands]
        return and_(*parts) if expression.operator == "and" else or_(*parts)
    if isinstance(expression, Negation):
        return not_(_translate(expression.operand, scope))
    if isinstance(expression, ValuePath):
        return scope.value_path(expression)
    return scope.comparison(expression)


class _ResourceScope:
    """Translates conditions on a whole resource."""

    def __init__(self, resource_type: ResourceType) -> None:
        self.resource_type = resource_type

    def comparison(self, comparison: Comparison) -> ColumnElement[bool]:
        path = self._resolve(comparison.path, comparison.operator)
        operator, value, negate = _checked(path, comparison)

        clause = self._positive(path, operator, value)
        return not_(clause) if negate else clause

    def value_path(self, value_path: ValuePath) -> ColumnElement[bool]:
        parent = self.resolve_parent(value_path.path)
        relation = membership_of(parent)
        if relation is not None:
            source, fields = membership_rows(relation)
            scope: _Scope = _MembershipItemScope(parent, fields)
            return exists(source.where(_translate(value_path.condition, scope)))

        anchor = aliased(ResourceValue)
        condition = _translate(value_path.condition, _IndexItemScope(parent, anchor))
        return exists(
            select(anchor.id).where(
                anchor.resource_id == Resource.id,
                anchor.attribute == index_key(parent),
                condition,
            )
        )

    def _positive(
        self, path: AttributePath, operator: str, value: Any
    ) -> ColumnElement[bool]:
        relation = membership_of(path)
        if relation is not None:
            source, fields = membership_rows(relation)
            if path.sub_attribute is None:
                return exists(source)
            field = _membership_field(path, fields)
            return exists(source.where(row_condition(field, operator, value)))

        column = column_for(path)
        if column is not None:
            exact = path.target.case_exact or path.target.type not in TEXT_TYPES
            field = (
                ValueField(column, path.target, "exact")
                if exact
                else ValueField(func.lower(column), path.target, "sql_lower")
            )
            return row_condition(field, operator, value)
        return _index_exists(path, operator, value, Resource.id, None)

    def _resolve(self, reference: AttributeReference, operator: str) -> AttributePath:
        path = self._resolve_known(reference)
        is_whole = path.sub_attribute is None and path.attribute.is_complex
        if is_whole and operator != "pr":
            # RFC 7643 §2.4: "value" stands for a multi-valued attribute's values.
            default = path.attribute.sub_attribute("value")
            if default is None:
                raise InvalidFilter(
                    f"'{path}' is complex: filter on one of its sub-attributes."
                )
            path = replace(path, sub_attribute=default)

        _check_filterable(path)
        return path

    def resolve_parent(self, reference: AttributeReference) -> AttributePath:
        """Resolve the attribute of a value path: a complex attribute."""
        path = self._resolve_known(reference)
        if not path.attribute.is_complex or path.sub_attribute is not None:
            raise InvalidFilter(
                f"Value filters apply to complex attributes; '{reference}' is not one."
            )
        _check_filterable(path)
        return path

    def _resolve_known(self, reference: AttributeReference) -> AttributePath:
        try:
            return self.resource_type.resolve(str(reference))
        except InvalidPath as error:
            raise InvalidFilter(error.detail) from None


class _IndexItemScope:
    """Translates the condition of a value path over value-index rows."""

    def __init__(self, parent: AttributePath, anchor: type[ResourceValue]) -> None:
        self.parent = parent
        self.anchor = anchor

    def comparison(self, comparison: Comparison) -> ColumnElement[bool]:
        path = _sub_path(self.parent, comparison.path)
        operator, value, negate = _checked(path, comparison)

        clause = _index_exists(
            path, operator, value, self.anchor.resource_id, self.anchor.item
        )
        return not_(clause) if negate else clause

    def value_path(self, value_path: ValuePath) -> NoReturn:
        raise InvalidFilter("Value filters cannot be nested.")


class _MembershipItemScope:
    """Translates the condition of a value path over membership rows."""

    def __init__(
        self, parent: AttributePath, fields: dict[str, SQLColumnExpression[Any]]
    ) -> None:
        self.parent = parent
        self.fields = fields

    def comparison(self, comparison: Comparison) -> ColumnElement[bool]:
        path = _sub_path(self.parent, comparison.path)
        operator, value, negate = _checked(path, comparison)

        field = _membership_field(path, self.fields)
        clause = row_condition(field, operator, value)
        return not_(clause) if negate else clause

    def value_path(self, value_path: ValuePath) -> NoReturn:
        raise InvalidFilter("Value filters cannot be nested.")


def _sub_path(parent: AttributePath, reference: AttributeReference) -> AttributePath:
    if reference.urn is not None or reference.sub_attribute is not None:
        raise InvalidFilter(
            f"Inside '{parent}[...]' name sub-attributes of '{parent}' only, "
            f"not '{reference}'."
        )
    sub = parent.attribute.sub_attribute(reference.name)
    if sub is None:
        raise InvalidFilter(f"'{parent}' has no sub-attribute '{reference.name}'.")

    path = replace(parent, sub_attribute=sub)
    _check_filterable(path)
    return path


def _check_filterable(path: AttributePath) -> None:
    if path.attribute.returned == "never" or path.target.returned == "never":
        raise InvalidFilter(f"'{path}' is never returned and cannot be filtered on.")
    if path.target.type == "binary":
        raise InvalidFilter(f"'{path}' is binary and cannot be filtered on.")
    if is_unstored(path):
        raise InvalidFilter(f"'{path}' cannot be filtered on.")


def _checked(path: AttributePath, comparison: Comparison) -> tuple[str, Any, bool]:
    """Validate a comparison; return its positive operator, value and negation.

    ``ne v`` becomes ``not (eq v)``, ``eq null`` becomes ``not pr`` and ``ne null``
    becomes ``pr``.
    """
    operator, value = comparison.operator, comparison.value
    typed = _typed_value(path, operator, value)
    if value is None and operator in ("eq", "ne"):
        return "pr", None, operator == "eq"
    if operator == "ne":
        return "eq", typed, True
    return operator, typed, False


def _typed_value(path: AttributePath, operator: str, value: CompareValue) -> Any:
    kind = path.target.type
    if operator == "pr":
        return None
    if value is None:
        if operator in ("eq", "ne"):
            return None
        raise InvalidFilter(f"'{operator}' cannot compare '{path}' with null.")
    if operator in SUBSTRING and kind not in TEXT_TYPES:
        raise InvalidFilter(
            f"'{operator}' applies to strings, but '{path}' is of type {kind}."
        )
    if operator in ORDERING and kind == "boolean":
        raise InvalidFilter(f"'{operator}' cannot compare boolean attribute '{path}'.")
    return _operand_of_type(path, kind, value)


def _operand_of_type(path: AttributePath, kind: str, value: CompareValue) -> Any:
    if kind in TEXT_TYPES and isinstance(value, str):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind in NUMBER_TYPES and isinstance(value, int | float):
        return _finite(path, value)
    if kind == "dateTime" and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            return moment
        raise InvalidFilter(
            f"'{path}' is a dateTime: compare it with a value such as "
            '"2011-05-13T04:42:34Z".'
        )
    raise InvalidFilter(f"'{path}' is of type {kind}; the value compared is not.")


def _finite(path: AttributePath, value: int | float) -> float:
    if isinstance(value, bool):
        raise InvalidFilter(f"'{path}' is a number; the value compared is not.")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidFilter(f"The number compared with '{path}' is too large.")
    return number


def _index_exists(
    path: AttributePath,
    operator: str,
    value: Any,
    owner: SQLColumnExpression[str],
    item: SQLColumnExpression[int] | None,
) -> ColumnElement[bool]:
    """EXISTS a value-index row of ``path`` (of one item) meeting the condition."""
    rows = aliased(ResourceValue)
    query = select(rows.id).where(
        rows.resource_id == owner, rows.attribute == index_key(path)
    )

    if path.sub_attribute is not None:
        query = query.where(rows.sub_attribute == path.sub_attribute.name.lower())
    elif not path.attribute.is_complex:
        query = query.where(rows.sub_attribute == "")
    if item is not None:
        query = query.where(rows.item == item)
    if operator == "pr":
        return exists(query)

    target = path.target
    case: Literal["exact", "stored_lower"] = (
        "exact" if target.case_exact else "stored_lower"
    )
    field = ValueField(value_column(rows, target), target, case)
    return exists(query.where(value_condition(field, operator, value)))


def _membership_field(
    path: AttributePath, fields: dict[str, SQLColumnExpression[Any]]
) -> ValueField:
    target = path.target
    expression = fields.get(target.name.lower())
    if expression is None:
        raise InvalidFilter(
            f"'{path}' cannot be filtered on; filter on '{path.attribute.name}.value'."
        )
    # Member ids are compared exactly, like ``id`` itself.
    if target.name == "value":
        return ValueField(expression, target, "exact")
    return ValueField(func.lower(expression), target, "sql_lower")
