"""The ``attributes``/``excludedAttributes`` projection of full representations."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scimserver.scim.representation import Projection
from scimserver.scim.schema import ResourceType

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

TOP_LEVEL = {
    "id": st.just("2819c223"),
    "userName": st.text(min_size=1, max_size=8),
    "password": st.just("t1meMa$heen"),
    "displayName": st.text(max_size=8),
    "active": st.booleans(),
    "name": st.fixed_dictionaries(
        {},
        optional={"givenName": st.text(max_size=5), "honorificPrefix": st.just("Dr")},
    ),
    "emails": st.lists(
        st.fixed_dictionaries(
            {"value": st.sampled_from(["ada@corp.example", ""])},
            optional={"type": st.sampled_from(["work"])},
        ),
        max_size=2,
    ),
    "meta": st.fixed_dictionaries({"resourceType": st.just("User")}),
    "notAnAttribute": st.integers(),
    ENTERPRISE: st.fixed_dictionaries(
        {}, optional={"costCenter": st.text(max_size=4), "unknownKey": st.integers()}
    ),
}


@st.composite
def user_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A full representation holding any of the keys above, in any order."""
    keys = draw(st.lists(st.sampled_from(sorted(TOP_LEVEL)), unique=True))
    body: dict[str, Any] = {"schemas": [USER, ENTERPRISE]}
    for key in keys:
        body[key] = draw(TOP_LEVEL[key])
    return body


# No deadline: a loaded CI machine can take longer than the default 200 ms.
@settings(deadline=None)
@given(body=user_bodies())
def test_a_request_naming_no_attributes_gets_what_the_full_walk_gives(
    users: ResourceType, body: dict[str, Any]
) -> None:
    """The shortcut for plain requests agrees with the attribute-by-attribute walk.

    Excluding ``password``, which is never returned anyway, forces the full walk
    without changing what a response holds.
    """
    plain = Projection.parse(users).apply(body)
    walked = Projection.parse(users, excluded=["password"]).apply(body)

    assert plain == walked
    assert "password" not in plain and "notAnAttribute" not in plain
    assert (ENTERPRISE in plain) == (ENTERPRISE in plain["schemas"])


def test_body_keys_are_found_whatever_their_case(users: ResourceType) -> None:
    path = users.top_level_path(None, "USERNAME")
    assert path is not None and path.attribute.name == "userName"

    section = ENTERPRISE.upper()
    extension = users.top_level_path(section, "costcenter")
    assert extension is not None and extension.schema.id == ENTERPRISE
    assert users.extension(section) is users.extension(ENTERPRISE)
    assert users.top_level_path(None, "nonsense") is None
