"""Discovery resources: ServiceProviderConfig, Schemas, ResourceTypes (RFC 7644 §4)."""

from __future__ import annotations

from typing import Any

from scimserver.config import Settings
from scimserver.scim.schema import Schema, SchemaRegistry

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def service_provider_config(settings: Settings) -> dict[str, Any]:
    """Describe exactly the features this server implements (RFC 7643 §5)."""
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": f"{settings.base_url}/docs",
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": settings.bulk_max_operations,
            "maxPayloadSize": settings.bulk_max_payload_bytes,
        },
        "filter": {"supported": True, "maxResults": settings.max_page_size},
        "changePassword": {"supported": True},
        "sort": {"supported": True},
        "etag": {"supported": True},
        # RFC 9865 §4; index paging stays the default (§2.4) for existing IdPs.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": settings.default_page_size,
            "maxPageSize": settings.max_page_size,
            "cursorTimeout": settings.cursor_timeout_seconds,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A bearer token issued by 'scimserver clients create'.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{settings.base_url}/scim/v2/ServiceProviderConfig",
        },
    }


def schema_representation(schema: Schema, settings: Settings) -> dict[str, Any]:
    """Return a schema with its ``meta`` block (RFC 7643 §7)."""
    body = schema.to_representation()
    body["meta"] = {
        "resourceType": "Schema",
        "location": f"{settings.base_url}/scim/v2/Schemas/{schema.id}",
    }
    return body


def list_response(
    resources: list[dict[str, Any]], start_index: int = 1
) -> dict[str, Any]:
    """Wrap resources in a ListResponse (RFC 7644 §3.4.2)."""
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(resources),
        "itemsPerPage": len(resources),
        "startIndex": start_index,
        "Resources": resources,
    }


def all_schemas(registry: SchemaRegistry, settings: Settings) -> list[dict[str, Any]]:
    """Return every served schema's representation."""
    return [schema_representation(s, settings) for s in registry.schemas.values()]
