"""The request body of a consent grant, checked with marshmallow.

A body that does not fit fails with 400 ``invalidValue`` and a message naming
each field and what is wrong with it; unknown fields are refused, so that a
misspelt ``expiresAt`` cannot silently grant a consent without an end.
``dataCategories`` must name attributes of the User
(:mod:`scimserver.consent.categories`).
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from scimserver.consent.categories import canonical_categories
from scimserver.consent.grants import GrantRequest
from scimserver.scim.errors import InvalidValue
from scimserver.scim.schema import ResourceType

logger = logging.getLogger(__name__)

#: How an agreement can be captured; also the ``captureMethod`` canonicalValues.
CAPTURE_METHODS = ("api", "consent_page", "enrolment_flow", "paper_form")
IDENTIFIER = r"^[a-z][a-z0-9_]*$"


class GrantSchema(Schema):
    """``POST /api/v1/users/<id>/consents``."""

    purpose = fields.String(
        required=True,
        validate=[
            validate.Length(1, 100),
            validate.Regexp(IDENTIFIER, error="Use a lower-case identifier."),
        ],
    )
    recipient = fields.String(required=True, validate=validate.Length(1, 200))
    data_categories = fields.List(
        fields.String(validate=validate.Length(1, 300)),
        required=True,
        validate=validate.Length(1, 50),
        data_key="dataCategories",
    )
    notice_version = fields.String(
        required=True, validate=validate.Length(1, 64), data_key="noticeVersion"
    )
    capture_method = fields.String(
        required=True,
        validate=validate.OneOf(CAPTURE_METHODS),
        data_key="captureMethod",
    )
    expires_at = fields.AwareDateTime(
        load_default=None, allow_none=True, data_key="expiresAt"
    )


def read_grant(body: dict[str, Any], resource_type: ResourceType) -> GrantRequest:
    """Return the grant described by ``body`` or raise 400 naming every problem."""
    try:
        loaded: dict[str, Any] = GrantSchema().load(body)
    except ValidationError as error:
        raise InvalidValue(
            f"The consent request is not valid: {describe(error.messages)}"
        ) from None

    loaded["data_categories"] = canonical_categories(
        resource_type, loaded["data_categories"]
    )
    return GrantRequest(**loaded)


def describe(messages: Any, prefix: str = "") -> str:
    """Flatten marshmallow's messages into ``field: problem; field[0]: problem``."""
    if isinstance(messages, list):
        return f"{prefix}: {' '.join(str(m) for m in messages)}"
    if not isinstance(messages, dict):
        return f"{prefix}: {messages}"

    parts = []
    for key, value in sorted(messages.items(), key=lambda item: str(item[0])):
        if isinstance(key, int):
            name = f"{prefix}[{key}]"
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        parts.append(describe(value, name))
    return "; ".join(parts)
