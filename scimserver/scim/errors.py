"""SCIM errors (RFC 7644 §3.12) as one small exception hierarchy.

::

    ScimError (status, scim_type)
     ├── BadRequest (400)
     │    ├── InvalidFilter ── WithheldFilter
     │    ├── TooMany, InvalidSyntax, InvalidPath,
     │    │   NoTarget, InvalidValue, InvalidVersion, Sensitive
     │    ├── InvalidCursor, ExpiredCursor (RFC 9865 §2.1)
     │    └── MutabilityError
     ├── Unauthorized (401)
     ├── Forbidden (403)
     ├── NotFound (404)
     ├── MethodNotAllowed (405)
     ├── Conflict (409)  ── UniquenessError, ConcurrentChange
     ├── PreconditionFailed (412)
     ├── PayloadTooLarge (413)
     ├── UnsupportedMediaType (415)
     ├── TooManyRequests (429, RFC 6585 §4)
     ├── InternalError (500)
     └── NotImplementedFeature (501)

Each error is raised where its rule is checked and turned into a response in one
place, :func:`scimserver.scim.responses.error_response`.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """Base of every error that becomes a SCIM error response."""

    status: int = 400
    scim_type: str | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_body(self) -> dict[str, Any]:
        """Return the SCIM error body of RFC 7644 §3.12."""
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


class BadRequest(ScimError):
    status = 400


class InvalidFilter(BadRequest):
    scim_type = "invalidFilter"


class WithheldFilter(InvalidFilter):
    """A filter on an attribute that the client's release policy withholds."""


class TooMany(BadRequest):
    scim_type = "tooMany"


class InvalidSyntax(BadRequest):
    scim_type = "invalidSyntax"


class InvalidPath(BadRequest):
    scim_type = "invalidPath"


class NoTarget(BadRequest):
    scim_type = "noTarget"


class InvalidValue(BadRequest):
    scim_type = "invalidValue"


class InvalidVersion(BadRequest):
    scim_type = "invalidVers"


class Sensitive(BadRequest):
    scim_type = "sensitive"


class MutabilityError(BadRequest):
    scim_type = "mutability"


class InvalidCursor(BadRequest):
    scim_type = "invalidCursor"


class ExpiredCursor(BadRequest):
    scim_type = "expiredCursor"


class Unauthorized(ScimError):
    status = 401


class Forbidden(ScimError):
    status = 403


class NotFound(ScimError):
    status = 404


class MethodNotAllowed(ScimError):
    status = 405


class Conflict(ScimError):
    status = 409


class UniquenessError(Conflict):
    scim_type = "uniqueness"


class ConcurrentChange(Conflict):
    """Another request changed the resource between our read and our write."""


class PreconditionFailed(ScimError):
    status = 412


class PayloadTooLarge(ScimError):
    status = 413


class UnsupportedMediaType(ScimError):
    status = 415


class TooManyRequests(ScimError):
    status = 429


class InternalError(ScimError):
    status = 500


class NotImplementedFeature(ScimError):
    status = 501
