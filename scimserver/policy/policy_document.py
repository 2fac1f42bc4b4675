"""Release policy documents: the JSON that says what one client may read and write.

A policy is data, stored beside its client and changed from the command line;
:func:`parse_policy` validates it and :func:`policy_digest` names a version. The
format, with every key optional::

    {
      "description": "EAP vendor: contact details under consent",
      "read": {
        "classifications": ["public", "internal"],
        "attributes": ["urn:ietf:params:scim:schemas:core:2.0:User:phoneNumbers"],
        "deny": ["urn:ietf:params:scim:schemas:core:2.0:User:emails.display"],
        "with_consent": ["urn:ietf:params:scim:schemas:core:2.0:User:emails"]
      },
      "purposes": ["eap_referral"],
      "recipient": "eap-vendor",
      "write": {
        "attributes": ["urn:ietf:params:scim:schemas:core:2.0:User:title"],
        "delete": ["User"]
      },
      "cohort": {"group": "e9e30dba-f08f-4109-8486-d5c6a331660a"},
      "pseudonymous": {"enabled": true, "sector": "eap"}
    }

- ``read.classifications``: release every attribute of these data dictionary
  classifications (:mod:`scimserver.policy.dictionary`). Only ``public`` and
  ``internal`` may be released wholesale: the dictionary says a ``restricted``
  attribute goes only to clients whose policy names it, and a ``sensitive`` one
  only under consent, so both are named one by one in ``read.attributes``.
- ``read.attributes``: further attributes released; naming an attribute
  releases its sub-attributes. A ``sensitive`` attribute named here is released
  only for Users with a granted, unexpired consent whose purpose is one of
  ``purposes``, whose recipient is ``recipient`` and whose data categories cover
  the attribute (:mod:`scimserver.policy.consent_scope`).
- ``read.deny``: attributes never released, whatever the lines above say.
- ``read.with_consent``: attributes released to this client only under consent,
  as if they were ``sensitive``, whatever their classification (an EAP may get
  an employee's name and email only when the employee agreed). Needs a purpose.
- ``purposes``: the purposes the client acts for; ``recipient``: the name
  consents must give, the client's own name when absent.
- ``write.attributes``: the attributes the client may create, change or remove;
  absent, the client writes nothing. ``write.delete``: the resource types whose
  resources it may delete.
- ``cohort.group``: the client sees only Users that are members of this Group.
- ``pseudonymous``: the client sees Users under a pairwise pseudonym
  (:mod:`scimserver.policy.pseudonyms`) of ``sector``, its own name when absent.

Paths are URN-qualified (:mod:`scimserver.policy.policy_paths`); an unknown
path, schema or resource type is an error, so a typo never widens or narrows a
policy silently. A path both released and denied is an error too.

:data:`DEFAULT_POLICY` applies to a client that has no policy: the ``public``
attributes of every resource and nothing else, Users under a pseudonym of the
client's own, no writes. The User ``id`` is ``internal`` in the dictionary, so
a client that may read only ``public`` data does not learn it either.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.policy_paths import canonical_path, resolve_policy_path
from scimserver.policy.pseudonymous_view import holds_user_ids
from scimserver.policy.pseudonyms import SECTOR_PATTERN
from scimserver.policy.release_rules import classification_of
from scimserver.scim.errors import InvalidPath
from scimserver.scim.schema import AttributePath, SchemaRegistry

logger = logging.getLogger(__name__)

#: Classifications that ``read.classifications`` may release wholesale.
RELEASABLE_CLASSIFICATIONS = ("public", "internal")
PURPOSE_PATTERN = r"[a-z0-9][a-z0-9_.:-]{0,99}"


class PolicyError(ValueError):
    """A policy document that is not valid; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PolicyDocument:
    """A validated policy; paths are canonical, lists sorted and unique."""

    read_classifications: tuple[str, ...] = ()
    read_attributes: tuple[str, ...] = ()
    read_deny: tuple[str, ...] = ()
    read_with_consent: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    recipient: str | None = None
    write_attributes: tuple[str, ...] = ()
    write_delete: tuple[str, ...] = ()
    cohort_group: str | None = None
    pseudonymous: bool = False
    sector: str | None = None
    description: str = ""


DEFAULT_POLICY = PolicyDocument(
    read_classifications=("public",),
    pseudonymous=True,
    description="Default for clients without a policy: public attributes only.",
)


def _whole(pattern: str) -> validate.Regexp:
    """A validator matching the whole string (marshmallow's matches a prefix)."""
    return validate.Regexp(rf"(?:{pattern})\Z")


def _names(pattern: str | None = None) -> fields.List[str]:
    check = _whole(pattern) if pattern else validate.Length(min=1, max=1000)
    return fields.List(fields.String(validate=check), load_default=list)


class _ReadSchema(Schema):
    classifications = fields.List(
        fields.String(
            validate=validate.OneOf(
                RELEASABLE_CLASSIFICATIONS,
                error="'{input}' cannot be released wholesale: use {choices}, and "
                "name restricted or sensitive attributes in read.attributes.",
            )
        ),
        load_default=list,
    )
    attributes = _names()
    deny = _names()
    with_consent = _names()


class _WriteSchema(Schema):
    attributes = _names()
    delete = _names()


class _CohortSchema(Schema):
    group = fields.String(required=True, validate=validate.Length(min=1, max=200))


class _PseudonymousSchema(Schema):
    enabled = fields.Boolean(required=True, truthy={True}, falsy={False})
    sector = fields.String(validate=_whole(SECTOR_PATTERN.pattern))


class _PolicySchema(Schema):
    description = fields.String(validate=validate.Length(max=1000))
    read = fields.Nested(_ReadSchema)
    purposes = _names(PURPOSE_PATTERN)
    recipient = fields.String(validate=validate.Length(min=1, max=200))
    write = fields.Nested(_WriteSchema)
    cohort = fields.Nested(_CohortSchema)
    pseudonymous = fields.Nested(_PseudonymousSchema)


def parse_policy(
    source: str | bytes | Mapping[str, Any],
    registry: SchemaRegistry,
    dictionary: DataDictionary | None = None,
) -> PolicyDocument:
    """Validate a policy document; raise :class:`PolicyError` naming every problem.

    With ``dictionary``, naming a ``sensitive`` attribute without any purpose is
    refused too: no consent could ever release it.
    """
    data = _load_structure(source)
    checker = _PathChecker(registry)

    read, write = data.get("read", {}), data.get("write", {})
    pseudonymous = data.get("pseudonymous", {"enabled": False})
    document = PolicyDocument(
        read_classifications=tuple(sorted(set(read.get("classifications", [])))),
        read_attributes=checker.paths("read.attributes", read.get("attributes", [])),
        read_deny=checker.paths("read.deny", read.get("deny", [])),
        read_with_consent=checker.paths(
            "read.with_consent", read.get("with_consent", [])
        ),
        purposes=tuple(sorted(set(data.get("purposes", [])))),
        recipient=data.get("recipient"),
        write_attributes=checker.paths("write.attributes", write.get("attributes", [])),
        write_delete=checker.resource_types("write.delete", write.get("delete", [])),
        cohort_group=data.get("cohort", {}).get("group"),
        pseudonymous=pseudonymous["enabled"],
        sector=pseudonymous.get("sector"),
        description=data.get("description", ""),
    )

    problems = checker.problems + _consistency_problems(document, checker)
    if dictionary is not None:
        problems += _consent_problems(document, checker, dictionary)
    if problems:
        raise PolicyError(problems)
    return document


def dump_policy(document: PolicyDocument) -> dict[str, Any]:
    """The canonical JSON form of a policy; :func:`parse_policy` reads it back."""
    body: dict[str, Any] = {
        "read": {
            "classifications": list(document.read_classifications),
            "attributes": list(document.read_attributes),
            "deny": list(document.read_deny),
            "with_consent": list(document.read_with_consent),
        },
        "purposes": list(document.purposes),
        "write": {
            "attributes": list(document.write_attributes),
            "delete": list(document.write_delete),
        },
        "pseudonymous": {"enabled": document.pseudonymous},
    }
    if document.description:
        body["description"] = document.description
    if document.recipient is not None:
        body["recipient"] = document.recipient
    if document.cohort_group is not None:
        body["cohort"] = {"group": document.cohort_group}
    if document.sector is not None:
        body["pseudonymous"]["sector"] = document.sector
    return body


def policy_digest(document: PolicyDocument) -> str:
    """A version name for a policy: the SHA-256 of its canonical JSON form.

    Two documents that differ only in spelling (case of paths, order of lists)
    have the same digest.
    """
    text = json.dumps(
        dump_policy(document), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def _load_structure(source: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, str | bytes):
        try:
            source = json.loads(source)
        except ValueError as error:
            raise PolicyError([f"not JSON: {error}"]) from None
    if not isinstance(source, Mapping):
        raise PolicyError(["a policy is a JSON object"])
    try:
        loaded: dict[str, Any] = _PolicySchema().load(source)
    except ValidationError as error:
        raise PolicyError(_flatten(error.messages)) from None
    return loaded


def _flatten(messages: Any, where: str = "") -> list[str]:
    """Turn marshmallow's nested messages into ``read.attributes.0: ...`` lines."""
    if isinstance(messages, dict):
        return [
            line
            for key, inner in messages.items()
            for line in _flatten(inner, f"{where}.{key}" if where else str(key))
        ]
    if isinstance(messages, list):
        return [line for inner in messages for line in _flatten(inner, where)]
    return [f"{where}: {messages}"]


class _PathChecker:
    """Resolves the paths of a policy, collecting every problem."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.problems: list[str] = []
        self.resolved: dict[str, AttributePath] = {}

    def paths(self, where: str, texts: list[str]) -> tuple[str, ...]:
        found: set[str] = set()
        for text in texts:
            try:
                path = resolve_policy_path(self.registry, text)
            except InvalidPath as error:
                self.problems.append(f"{where}: '{text}': {error.detail}")
                continue
            canonical = canonical_path(path)
            self.resolved[canonical] = path
            found.add(canonical)
        return tuple(sorted(found))

    def resource_types(self, where: str, names: list[str]) -> tuple[str, ...]:
        found: set[str] = set()
        for name in names:
            resource_type = self.registry.resource_type(name)
            if resource_type is None:
                self.problems.append(f"{where}: unknown resource type '{name}'.")
                continue
            found.add(resource_type.name)
        return tuple(sorted(found))


def _consistency_problems(document: PolicyDocument, checker: _PathChecker) -> list[str]:
    problems = [
        f"read: '{path}' is both released and denied."
        for path in sorted(set(document.read_attributes) & set(document.read_deny))
    ]
    for text in document.write_attributes:
        path = checker.resolved[text]
        if any(a.mutability == "readOnly" for a in (path.attribute, path.target)):
            problems.append(f"write.attributes: '{text}' is readOnly.")
        elif document.pseudonymous and holds_user_ids(path.attribute) != "never":
            problems.append(
                f"write.attributes: '{text}' holds User ids, which a pseudonymous "
                "client cannot write."
            )
    if document.read_with_consent and not document.purposes:
        problems.append("read.with_consent: given, but purposes is empty.")
    if document.sector is not None and not document.pseudonymous:
        problems.append("pseudonymous.sector: given, but enabled is false.")
    return problems


def _consent_problems(
    document: PolicyDocument, checker: _PathChecker, dictionary: DataDictionary
) -> list[str]:
    if document.purposes:
        return []
    problems = []
    for text in document.read_attributes:
        if classification_of(dictionary, checker.resolved[text]) == "sensitive":
            problems.append(
                f"read.attributes: '{text}' is sensitive and needs a purpose, "
                "but purposes is empty."
            )
    return problems
