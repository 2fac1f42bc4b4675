"""The SCIM 2.0 HTTP API under ``/scim/v2`` (RFC 7644 §3)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from scimserver.config import Settings
from scimserver.db import get_session
from scimserver.models import Resource
from scimserver.policy import client_view, subject
from scimserver.policy.auth import authenticate_request, require_scope
from scimserver.policy.client_view import ClientView, current_view, load_visible
from scimserver.policy.rate_limit import enforce_rate_limit
from scimserver.scim import bulk, discovery, member_stream, writes
from scimserver.scim.cursors import page_attributes
from scimserver.scim.dialects import current_dialect
from scimserver.scim.errors import (
    ConcurrentChange,
    InvalidPath,
    InvalidSyntax,
    MethodNotAllowed,
    NotFound,
    NotImplementedFeature,
)
from scimserver.scim.listing import ListQuery, attribute_list
from scimserver.scim.patch_response import answers_no_content, no_content
from scimserver.scim.representation import (
    Projection,
    etag,
    location,
    related_attribute,
    represent,
)
from scimserver.scim.responses import read_json_body, scim_response
from scimserver.scim.schema import ResourceType, SchemaRegistry
from scimserver.scim.search import SEARCH_REQUEST, run_query
from scimserver.scim.store import MemberRef, Page, ResourceStore

logger = logging.getLogger(__name__)

blueprint = Blueprint("scim", __name__, url_prefix="/scim/v2")
REGISTRY_KEY = "scimserver.schemas"
WRITE_ATTEMPTS = 5
DISCOVERY_ENDPOINTS = ("ServiceProviderConfig", "Schemas", "ResourceTypes")


def init_app(app: Flask) -> None:
    """Load the schemas once and register the SCIM blueprint."""
    loaded = SchemaRegistry.load(app.config["SETTINGS"].schema_dir)
    app.extensions[REGISTRY_KEY] = loaded
    client_view.init_app(app, loaded)
    app.register_blueprint(blueprint)


def registry() -> SchemaRegistry:
    """Return the schema registry of the current application."""
    loaded: SchemaRegistry = current_app.extensions[REGISTRY_KEY]
    return loaded


def settings() -> Settings:
    """Return the settings of the current application."""
    current: Settings = current_app.config["SETTINGS"]
    return current


@blueprint.before_request
def _authenticate() -> Response | None:
    return enforce_rate_limit(authenticate_request())


@blueprint.get("/ServiceProviderConfig")
def get_service_provider_config() -> Response:
    return scim_response(discovery.service_provider_config(settings()))


@blueprint.get("/Schemas")
def list_schemas() -> Response:
    return scim_response(
        discovery.list_response(discovery.all_schemas(registry(), settings()))
    )


@blueprint.get("/Schemas/<path:urn>")
def get_schema(urn: str) -> Response:
    schema = registry().schema(urn)
    if schema is None:
        raise NotFound(f"No schema with id '{urn}'.")
    return scim_response(discovery.schema_representation(schema, settings()))


@blueprint.get("/ResourceTypes")
def list_resource_types() -> Response:
    base_url = settings().base_url
    bodies = [rt.to_representation(base_url) for rt in registry().resource_types]
    return scim_response(discovery.list_response(bodies))


@blueprint.get("/ResourceTypes/<name>")
def get_resource_type(name: str) -> Response:
    resource_type = registry().resource_type(name)
    if resource_type is None:
        raise NotFound(f"No resource type named '{name}'.")
    return scim_response(resource_type.to_representation(settings().base_url))


@blueprint.get("/<collection>")
def list_resources(collection: str) -> Response:
    """RFC 7644 §3.4.2: query a collection with filter, sort and paging."""
    require_scope("scim:read")
    resource_type = _resource_type(collection)
    query = ListQuery.from_params(request.args, settings())
    return _list_response([resource_type], query)


@blueprint.post("/.search")
def search_everything() -> Response:
    """RFC 7644 §3.4.3: query every resource type with a SearchRequest."""
    require_scope("scim:read")
    query = _search_request()
    return _list_response(registry().resource_types, query)


@blueprint.post("/<collection>/.search")
def search_collection(collection: str) -> Response:
    """RFC 7644 §3.4.3: query one collection with a SearchRequest body."""
    require_scope("scim:read")
    resource_type = _resource_type(collection)
    query = _search_request()
    return _list_response([resource_type], query)


@blueprint.post("/Bulk")
def bulk_request() -> Response:
    """RFC 7644 §3.7: apply many operations, each on its own, in one request."""
    require_scope("scim:write")
    body = bulk.read_bulk_body(settings())
    response = bulk.apply_bulk(
        get_session(), registry().resource_types, settings(), body
    )
    get_session().commit()
    return scim_response(response)


@blueprint.post("/<collection>")
def create_resource(collection: str) -> Response:
    """RFC 7644 §3.3: create a resource."""
    require_scope("scim:write")
    resource_type = _resource_type(collection)
    payload = read_json_body()
    store, resource = _committed(
        resource_type, lambda store: writes.create_resource(store, payload)
    )

    # A User rehired by its profile's dialect is an old one, maybe in groups.
    created = resource.version == 1
    return _resource_response(store, resource_type, resource, 201, created)


@blueprint.get("/<collection>/<resource_id>")
def get_resource(collection: str, resource_id: str) -> Response:
    """RFC 7644 §3.4.1: retrieve one resource; ``If-None-Match`` gives 304."""
    require_scope("scim:read")
    resource_type = _resource_type(collection)
    store = ResourceStore(get_session(), resource_type)
    resource = load_visible(store, resource_id)

    if request.if_none_match and request.if_none_match.contains_weak(
        str(resource.version)
    ):
        return Response(status=304, headers={"ETag": etag(resource)})
    return _resource_response(store, resource_type, resource)


@blueprint.put("/<collection>/<resource_id>")
def replace_resource(collection: str, resource_id: str) -> Response:
    """RFC 7644 §3.5.1: replace a resource's attributes."""
    require_scope("scim:write")
    resource_type = _resource_type(collection)
    payload = read_json_body()
    store, resource = _committed(
        resource_type,
        lambda store: writes.replace_resource(store, resource_id, payload, _if_match()),
    )
    return _resource_response(store, resource_type, resource)


@blueprint.patch("/<collection>/<resource_id>")
def patch_resource(collection: str, resource_id: str) -> Response:
    """RFC 7644 §3.5.2: modify a resource with a PatchOp."""
    require_scope("scim:write")
    resource_type = _resource_type(collection)
    body = read_json_body()
    store, resource = _committed(
        resource_type,
        lambda store: writes.patch_resource(store, resource_id, body, _if_match()),
    )
    prefer = request.headers.get("Prefer")
    if answers_no_content(current_dialect(), resource_type, body, request.args, prefer):
        return no_content(resource, prefer)
    return _resource_response(store, resource_type, resource)


@blueprint.delete("/<collection>/<resource_id>")
def delete_resource(collection: str, resource_id: str) -> Response:
    """RFC 7644 §3.6: delete a resource."""
    require_scope("scim:write")
    resource_type = _resource_type(collection)
    _committed(
        resource_type,
        lambda store: writes.delete_resource(store, resource_id, _if_match()),
    )
    return Response(status=204)


@blueprint.route("/Me", methods=["GET", "PUT", "PATCH", "DELETE", "POST"])
def me_alias() -> Response:
    """RFC 7644 §3.11: act on the authenticated person's User, as /Users/{id}."""
    user_id = subject.require_subject()
    if request.method == "POST":
        raise NotImplementedFeature("Create Users at /Users; /Me cannot create.")

    views = {
        "GET": get_resource,
        "PUT": replace_resource,
        "PATCH": patch_resource,
        "DELETE": delete_resource,
    }
    users = _resource_type("Users")
    response = views[request.method](users.endpoint.strip("/"), user_id)
    response.headers["Location"] = location(settings().base_url, users, user_id)
    return response


def _committed(
    resource_type: ResourceType, write: Callable[[ResourceStore], Resource]
) -> tuple[ResourceStore, Resource]:
    """Run one write and commit it, retrying when another request won a race.

    Optimistic locking turns a concurrent change into :class:`ConcurrentChange`;
    the write is then read and applied again on the newer state.
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        session = get_session()
        store = ResourceStore(session, resource_type)
        try:
            resource = write(store)
            session.commit()
            return store, resource
        except ConcurrentChange:
            session.rollback()
            if attempt == WRITE_ATTEMPTS:
                raise
            logger.info("concurrent change; retrying attempt=%d", attempt)
            time.sleep(random.uniform(0, 0.01 * attempt))
    raise AssertionError("unreachable")


def _resource_type(collection: str) -> ResourceType:
    if collection in DISCOVERY_ENDPOINTS:
        raise MethodNotAllowed(f"{request.method} is not allowed on {request.path}.")
    for resource_type in registry().resource_types:
        if resource_type.endpoint.strip("/").lower() == collection.lower():
            return resource_type
    raise NotFound(f"No resource or endpoint at {request.path}.")


def _search_request() -> ListQuery:
    body = read_json_body()
    if SEARCH_REQUEST not in body.get("schemas", []):
        raise InvalidSyntax(f"A search request must list the schema {SEARCH_REQUEST}.")
    return ListQuery.from_params(body, settings())


def _list_response(resource_types: list[ResourceType], query: ListQuery) -> Response:
    """Run a query and answer with a ListResponse of released resources."""
    several = len(resource_types) > 1
    projections = {
        rt.name: Projection.parse(
            rt,
            _known_paths(rt, query.attributes, several),
            _known_paths(rt, query.excluded_attributes, several),
        )
        for rt in resource_types
    }
    view = _view()
    view.check_sort(resource_types, query.sort_by)
    page = run_query(get_session(), resource_types, query, view)

    rendered, shown = _render_page(resource_types, page, projections, view)
    envelope = {
        "schemas": [discovery.LIST_SCHEMA],
        "totalResults": page.total,
        "itemsPerPage": len(rendered),
        **page_attributes(page, query.start_index),
    }
    if shown:
        return member_stream.streamed_list(envelope, rendered, shown)
    return scim_response({**envelope, "Resources": [body for body, _ in rendered]})


#: A released body, and the members to stream after it (a large Group's).
Rendered = tuple[dict[str, Any], member_stream.MemberPages | None]


def _render_page(
    resource_types: list[ResourceType],
    page: Page,
    projections: dict[str, Projection],
    view: ClientView,
) -> tuple[list[Rendered], dict[str, member_stream.MemberJson]]:
    """The page's bodies in its order, and how each type with large Groups shows
    their members (empty when nothing is streamed).
    """
    position = {r.id: n for n, r in enumerate(page.resources)}
    placed: list[tuple[int, Rendered]] = []
    shown: dict[str, member_stream.MemberJson] = {}
    for resource_type in resource_types:
        of_type = [r for r in page.resources if r.resource_type == resource_type.name]
        if not of_type:
            continue
        store = ResourceStore(get_session(), resource_type)
        store.keep_groups_read(page.groups)
        projection = projections[resource_type.name]
        large = member_stream.large_groups(
            store, resource_type, of_type, projection, view
        )
        related = _related_of_small(
            store, resource_type, of_type, projection, view, large
        )
        bodies = _represent_all(store, resource_type, of_type, projection, related)
        placed += [
            (position[r.id], (body, large.get(r.id)))
            for r, body in zip(of_type, bodies, strict=True)
        ]
        if large:
            shown[resource_type.name] = member_stream.member_json(
                resource_type, projection, settings().base_url, _types()
            )

    placed.sort(key=lambda entry: entry[0])
    return [rendered for _position, rendered in placed], shown


def _related_of_small(
    store: ResourceStore,
    resource_type: ResourceType,
    resources: list[Resource],
    projection: Projection,
    view: ClientView,
    large: dict[str, member_stream.MemberPages],
) -> dict[str, list[MemberRef]] | None:
    """The members of a page's Groups but the large ones, which are streamed.

    None, to read them all as usual, when no Group is large.
    """
    if not large:
        return None
    small = [resource for resource in resources if resource.id not in large]
    related = _load_related(store, resource_type, small, projection, view)
    related.update({group_id: [] for group_id in large})
    return related


def _known_paths(
    resource_type: ResourceType, paths: tuple[str, ...], lenient: bool
) -> tuple[str, ...]:
    """At the root, attribute names another resource type defines are skipped."""
    if not lenient:
        return paths
    known = []
    for path in paths:
        try:
            resource_type.resolve(path)
        except InvalidPath:
            continue
        known.append(path)
    return tuple(known)


def _if_match() -> str | None:
    """The ``If-Match`` header, checked by :func:`writes.check_version`."""
    return request.headers.get("If-Match")


def _resource_response(
    store: ResourceStore,
    resource_type: ResourceType,
    resource: Resource,
    status: int = 200,
    created: bool = False,
) -> Response:
    """One resource as the client may see it; a large Group's members streamed."""
    headers = {"ETag": etag(resource)}
    if status == 201:
        headers["Location"] = location(settings().base_url, resource_type, resource.id)
    projection = Projection.parse(
        resource_type,
        attribute_list(request.args.get("attributes")),
        attribute_list(request.args.get("excludedAttributes")),
    )
    members = member_stream.first_page(
        store, resource_type, resource, projection, _view()
    )
    related = _read_already(resource_type, resource, members, created)
    body = _represent_all(store, resource_type, [resource], projection, related)[0]
    if members is None or not members.more or body.pop("members", None) is None:
        return scim_response(body, status=status, headers=headers)

    shown = member_stream.member_json(
        resource_type, projection, settings().base_url, _types()
    )
    return member_stream.streamed_response(body, members, shown, status, headers)


def _read_already(
    resource_type: ResourceType,
    resource: Resource,
    members: member_stream.MemberPages | None,
    created: bool,
) -> dict[str, list[MemberRef]] | None:
    """Members or groups known without a query; None to read them.

    A Group's first page of members (of which one stands for all when they are
    streamed), or the groups of a User just created: none.
    """
    if members is not None and members.first is not None:
        return {resource.id: members.first[:1] if members.more else members.first}
    if created and related_attribute(resource_type) == "groups":
        return {}
    return None


def _represent_all(
    store: ResourceStore,
    resource_type: ResourceType,
    resources: Any,
    projection: Projection,
    related: dict[str, list[MemberRef]] | None = None,
) -> list[dict[str, Any]]:
    """Released, projected bodies; ``related`` gives members or groups read already."""
    view = _view()
    if related is None:
        related = _load_related(store, resource_type, resources, projection, view)
    types = _types()
    base_url = settings().base_url
    full = [
        represent(resource_type, r, base_url, related.get(r.id), types)
        for r in resources
    ]
    return [projection.apply(body) for body in view.release(resource_type, full)]


def _load_related(
    store: ResourceStore,
    resource_type: ResourceType,
    resources: Any,
    projection: Projection,
    view: ClientView,
) -> dict[str, list[MemberRef]]:
    """Load members or groups for a page in one query, and only when returned.

    A client limited to a cohort sees only the cohort's Users among members.
    """
    name = related_attribute(resource_type)
    attribute = resource_type.schema.attribute(name) if name else None
    if attribute is None or not projection.returns(attribute):
        return {}
    ids = [r.id for r in resources]
    if name == "members":
        display = projection.returns_sub_attribute(attribute, "display")
        return store.members_of(ids, view.member_condition(), display=display)
    return store.groups_of(ids)


def _types() -> dict[str, ResourceType]:
    """The resource types by name, for the ``$ref`` of members and groups."""
    return {rt.name: rt for rt in registry().resource_types}


def _view() -> ClientView:
    """The authenticated client's view; every SCIM request past discovery has one."""
    view = current_view()
    if view is None:
        raise AssertionError("a SCIM request without an authenticated client")
    return view
