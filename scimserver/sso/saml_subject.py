"""Who a SAML IdP said signed in, kept in the hub session for single logout.

A LogoutRequest names the principal by the same NameID, with its Format and
qualifiers, that the assertion carried, and may name the IdP's session by its
``SessionIndex`` (SAML 2.0 Core §3.7.1). The hub keeps these values from the
login until the session ends, so that it can send a LogoutRequest and tell
whether an IdP's LogoutRequest is about the person of the session. The values
identify a person: they are never logged or audited.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from onelogin.saml2.response import OneLogin_Saml2_Response

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamlSubject:
    """The principal of a SAML login and the IdP session it came from."""

    idp_alias: str
    name_id: str
    name_id_format: str | None = None
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None
    session_index: str | None = None

    @classmethod
    def from_response(
        cls, idp_alias: str, response: OneLogin_Saml2_Response
    ) -> SamlSubject:
        """The subject of a validated SAML response."""
        data: dict[str, Any] = response.get_nameid_data() or {}
        index = response.get_session_index()
        return cls(
            idp_alias=idp_alias,
            name_id=str(data.get("Value", "")),
            name_id_format=_text(data.get("Format")),
            name_qualifier=_text(data.get("NameQualifier")),
            sp_name_qualifier=_text(data.get("SPNameQualifier")),
            session_index=_text(index),
        )

    @classmethod
    def from_record(cls, record: object) -> SamlSubject | None:
        """The subject stored by :meth:`record`, or None for anything else."""
        if not isinstance(record, Mapping):
            return None
        alias, name_id = record.get("idp_alias"), record.get("name_id")
        if not isinstance(alias, str) or not isinstance(name_id, str):
            return None
        return cls(
            idp_alias=alias,
            name_id=name_id,
            name_id_format=_text(record.get("name_id_format")),
            name_qualifier=_text(record.get("name_qualifier")),
            sp_name_qualifier=_text(record.get("sp_name_qualifier")),
            session_index=_text(record.get("session_index")),
        )

    def record(self) -> dict[str, str | None]:
        """The subject as plain values for the session cookie."""
        return asdict(self)

    def is_named_by(
        self, name_id: Mapping[str, str], session_indexes: list[str]
    ) -> bool:
        """Whether a LogoutRequest naming ``name_id`` is about this session.

        The NameID value must be equal, and so must its Format when both name
        one. When the request names sessions and this one has an index, it must
        be among them (Core §3.7.3.2).
        """
        if name_id.get("Value") != self.name_id:
            return False

        sent_format = name_id.get("Format")
        if sent_format and self.name_id_format and sent_format != self.name_id_format:
            return False

        if session_indexes and self.session_index is not None:
            return self.session_index in session_indexes
        return True


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
