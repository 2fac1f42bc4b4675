"""What a granted consent covers, as the release policy reads it.

The release policy needs three facts from a consent record: the ``purpose`` it was
given for (``eap_referral``), the ``recipient`` it names (``eap-vendor``) and the
``data_categories`` it covers. The consent store hands over only granted,
unexpired consents, keyed by User id (:data:`ConsentsByUser`); the release
policy does not re-check status or expiry.

A consent covers an attribute when one of its data categories is, compared
without regard to case,

- the attribute's path qualified by its schema URN
  (``urn:ietf:params:scim:schemas:core:2.0:User:phoneNumbers``),
- the path of the sub-attribute (``...:User:phoneNumbers.value``), or
- the schema URN itself, for every attribute of that schema (a consent
  extension schema, say).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, TypeAlias

from scimserver.scim.schema import AttributePath

logger = logging.getLogger(__name__)


class Consent(Protocol):
    """A granted, unexpired consent, as the consent store provides it."""

    @property
    def purpose(self) -> str: ...

    @property
    def recipient(self) -> str: ...

    @property
    def data_categories(self) -> Collection[str]: ...


#: Granted, unexpired consents of each User, keyed by User id.
ConsentsByUser: TypeAlias = Mapping[str, Sequence[Consent]]


def for_client(
    consents: Sequence[Consent], purposes: Collection[str], recipient: str
) -> list[Consent]:
    """The consents given to ``recipient`` for one of ``purposes``."""
    return [
        consent
        for consent in consents
        if consent.recipient == recipient and consent.purpose in purposes
    ]


def covers(consent: Consent, path: AttributePath) -> bool:
    """Whether ``consent`` names the attribute of ``path`` among its categories."""
    schema = path.schema.id.lower()
    attribute = f"{schema}:{path.attribute.name.lower()}"
    candidates = {schema, attribute}
    if path.sub_attribute is not None:
        candidates.add(f"{attribute}.{path.sub_attribute.name.lower()}")
    return any(category.lower() in candidates for category in consent.data_categories)
