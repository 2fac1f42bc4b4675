"""Property: no response ever holds what the client's policy withholds.

Over random policies, and random consents of three employees, every body that
GET, list, filter, ``.search``, PATCH and PUT return is checked against an
oracle written here from the data dictionary file alone, independently of the
policy engine: an attribute leaves only when released by classification or by
name, never when denied, and a ``sensitive`` one only for an employee whose
granted consent to the client covers it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimserver.policy.pseudonyms import derive_key, pseudonym
from tests.conftest import ScimClient, empty_database, make_token
from tests.consent.conftest import ConsentClient
from tests.policy.http.conftest import COST_CENTER, ENTERPRISE, PHONES, USER

COMMON = "urn:scimserver:internal:common"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ALWAYS = {("id", None), ("meta", "resourceType"), ("meta", "location")}
ALWAYS |= {("meta", "version")}
NAMEABLE = [f"{USER}:addresses", f"{USER}:ims", PHONES, COST_CENTER]
NAMEABLE += [f"{ENTERPRISE}:manager"]
DENIABLE = [
    f"{USER}:displayName",
    f"{USER}:title",
    f"{USER}:emails.display",
    f"{USER}:name.givenName",
    f"{USER}:meta.created",
    f"{ENTERPRISE}:department",
]
RECIPIENT = "vendor"


@dataclass(frozen=True)
class Grant:
    purpose: str
    categories: tuple[str, ...]
    withdrawn: bool


policies = st.fixed_dictionaries(
    {
        "read": st.fixed_dictionaries(
            {
                "classifications": st.lists(
                    st.sampled_from(["public", "internal"]), unique=True
                ),
                "attributes": st.lists(st.sampled_from(NAMEABLE), unique=True),
                "deny": st.lists(st.sampled_from(DENIABLE), unique=True),
            }
        ),
        "purposes": st.sampled_from([["eap_referral"], ["eap_referral", "other"]]),
        "pseudonymous": st.booleans(),
    }
)
grants = st.lists(
    st.one_of(
        st.none(),
        st.builds(
            Grant,
            purpose=st.sampled_from(["eap_referral", "learning_progress_sharing"]),
            categories=st.lists(
                st.sampled_from([PHONES, COST_CENTER, f"{USER}:phoneNumbers.value"]),
                min_size=1,
                unique=True,
            ).map(tuple),
            withdrawn=st.booleans(),
        ),
    ),
    min_size=3,
    max_size=3,
)


def employee(n: int, manager: str | None) -> dict[str, Any]:
    enterprise: dict[str, Any] = {"costCenter": f"CC-{n}", "department": "R&D"}
    if manager:
        enterprise["manager"] = {"value": manager}
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": f"employee-{n}",
        "externalId": f"E{n}",
        "displayName": f"Employee {n}",
        "name": {"givenName": f"Given{n}", "familyName": "Family"},
        "title": "Engineer",
        "emails": [{"value": f"e{n}@example.com", "type": "work", "display": "W"}],
        "phoneNumbers": [{"value": f"+44 {n}", "type": "work"}],
        "ims": [{"value": f"im{n}", "type": "xmpp"}],
        "addresses": [{"locality": "Leeds", "type": "work"}],
        ENTERPRISE: enterprise,
    }


class Oracle:
    """What may appear for one policy, read from the dictionary file alone."""

    def __init__(self, schema_dir: str, policy: dict[str, Any]) -> None:
        path = Path(schema_dir) / "privacy" / "data_dictionary.json"
        self.entries = json.loads(path.read_text())["attributes"]
        self.read = policy["read"]
        self.purposes = policy["purposes"]

    def check(self, body: dict[str, Any], categories: set[str]) -> None:
        for key, value in body.items():
            if key == "schemas":
                continue
            if key.startswith("urn:"):
                for name, inner in value.items():
                    self._check_attribute(key, name, inner, categories)
            else:
                self._check_attribute(USER, key, value, categories)

    def _check_attribute(
        self, urn: str, name: str, value: Any, categories: set[str]
    ) -> None:
        items = value if isinstance(value, list) else [value]
        subs = {s for item in items if isinstance(item, dict) for s in item}
        for sub in subs or {None}:
            assert self.allowed(urn, name, sub, categories), (urn, name, sub)

    def allowed(
        self, urn: str, name: str, sub: str | None, categories: set[str]
    ) -> bool:
        if (name, sub) in ALWAYS:
            return True
        path = f"{urn}:{name}"
        paths = {path} | ({f"{path}.{sub}"} if sub else set())
        if name == "password" or paths & set(self.read["deny"]):
            return False
        named = bool(paths & set(self.read["attributes"]))
        classification = self._classification(urn, name, sub)
        if classification == "sensitive":
            return (
                named and "eap_referral" in self.purposes and bool(paths & categories)
            )
        return named or classification in self.read["classifications"]

    def _classification(self, urn: str, name: str, sub: str | None) -> str:
        for key in (f"{urn}:{name}.{sub}", f"{urn}:{name}", f"{COMMON}:{name}"):
            if key in self.entries:
                classification: str = self.entries[key]["classification"]
                return classification
        raise AssertionError(f"no dictionary entry for {urn}:{name}")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(policy=policies, consents=grants)
def test_no_response_holds_a_withheld_attribute(
    app: Flask, scim: ScimClient, schema_dir: str, policy: dict[str, Any], consents: Any
) -> None:
    empty_database(app)
    hris = ScimClient(scim.client, make_token(app, "hris", ["scim:read", "scim:write"]))
    enrolment = ConsentClient(
        scim.client, make_token(app, "enrolment", ["consent:read", "consent:write"])
    )
    document = {
        **policy,
        "recipient": RECIPIENT,
        "write": {"attributes": [f"{USER}:title", f"{USER}:nickName"]},
        "pseudonymous": {"enabled": policy["pseudonymous"]},
    }
    vendor = ScimClient(
        scim.client, make_token(app, "vendor", ["scim:read", "scim:write"], document)
    )

    real_ids: list[str] = []
    covered: dict[str, set[str]] = {}
    for n, grant in enumerate(consents):
        manager = real_ids[0] if real_ids else None
        response = hris.post("/Users", employee(n, manager))
        assert response.status_code == 201, response.get_json()
        user_id = response.get_json()["id"]
        real_ids.append(user_id)
        covered[user_id] = _grant(enrolment, user_id, grant)

    key = derive_key(app.config["SETTINGS"].secret_key)
    shown_ids = {
        (pseudonym(key, "vendor", i) if policy["pseudonymous"] else i): i
        for i in real_ids
    }
    oracle = Oracle(schema_dir, document)

    def check(body: dict[str, Any]) -> None:
        user_id = shown_ids[body["id"]]
        oracle.check(body, covered[user_id])
        if policy["pseudonymous"]:
            assert not set(real_ids) & set(json.dumps(body).split('"'))

    listed = vendor.get("/Users").get_json()
    searched = vendor.post(
        "/Users/.search", {"schemas": [SEARCH], "filter": "id pr", "count": 10}
    ).get_json()
    filtered = vendor.get("/Users?filter=id%20pr").get_json()
    assert listed["totalResults"] == 3
    for body in listed["Resources"] + searched["Resources"] + filtered["Resources"]:
        check(body)

    for shown in shown_ids:
        check(vendor.get(f"/Users/{shown}").get_json())
        patched = vendor.patch(
            f"/Users/{shown}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "nickName", "value": "N"}],
            },
        )
        assert patched.status_code == 200, patched.get_json()
        check(patched.get_json())
        current = vendor.get(f"/Users/{shown}").get_json()
        replaced = vendor.put(f"/Users/{shown}", {**current, "nickName": "M"})
        if replaced.status_code == 403:
            # A withheld sub-attribute of a multi-valued attribute cannot be
            # carried over by a PUT (see ReleasePolicy.keep_withheld): one
            # denied, or one left out by a consent covering a sibling only.
            partial = f"{USER}:emails.display" in document["read"]["deny"] or any(
                "." in category.rpartition(":")[2]
                for category in covered[shown_ids[shown]]
            )
            assert partial, replaced.get_json()
            continue
        assert replaced.status_code == 200, replaced.get_json()
        check(replaced.get_json())


def _grant(enrolment: ConsentClient, user_id: str, grant: Grant | None) -> set[str]:
    """Grant (and maybe withdraw) a consent; return the categories in effect."""
    if grant is None:
        return set()
    record = enrolment.granted(
        user_id,
        purpose=grant.purpose,
        recipient=RECIPIENT,
        dataCategories=list(grant.categories),
    )
    if grant.withdrawn:
        enrolment.withdraw(record["consentToken"])
        return set()
    return set(grant.categories) if grant.purpose == "eap_referral" else set()
