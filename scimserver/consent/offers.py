"""What the consent page offers the employee, explained from the data dictionary.

Offers come from the SSO configuration file (``[[consent_offers]]``): a purpose,
a recipient, the data categories it would see and the notice version the
employee agrees to. Each category is shown with what the data dictionary says
of it (classification and why it is kept), so that the page tells what would
be shared, with whom and why, in the words HR and the EAP reviewed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from scimserver.consent.categories import canonical_categories
from scimserver.consent.grants import GrantRequest
from scimserver.consent.records import GRANTED, ConsentRecord
from scimserver.policy.dictionary import CLASSIFICATIONS, DataDictionary
from scimserver.scim.schema import ResourceType
from scimserver.sso.config import ConsentOffer

logger = logging.getLogger(__name__)

CAPTURE_METHOD = "consent_page"


@dataclass(frozen=True)
class SharedItem:
    """One data category of an offer as the employee reads it."""

    label: str
    classification: str
    purpose: str


@dataclass(frozen=True)
class OfferView:
    """An offer with its shared items and the employee's consent in effect."""

    offer: ConsentOffer
    items: tuple[SharedItem, ...]
    current: ConsentRecord | None

    @property
    def outdated(self) -> bool:
        """Whether the consent in effect agreed to an older notice version."""
        return (
            self.current is not None
            and self.current.notice_version != self.offer.notice_version
        )


def offer_views(
    offers: tuple[ConsentOffer, ...],
    history: list[ConsentRecord],
    dictionary: DataDictionary,
    users: ResourceType,
    now: datetime,
) -> list[OfferView]:
    """Each offer explained, with the newest consent in effect for it."""
    views = []
    for offer in offers:
        current = next(
            (
                record
                for record in history
                if record.purpose == offer.purpose
                and record.recipient == offer.recipient
                and record.status(now) == GRANTED
            ),
            None,
        )
        items = tuple(
            shared_item(category, dictionary, users)
            for category in canonical_categories(users, offer.data_categories)
        )
        views.append(OfferView(offer, items, current))
    return views


def shared_item(
    category: str, dictionary: DataDictionary, users: ResourceType
) -> SharedItem:
    """A canonical category described by the dictionary entry that covers it."""
    schema = users.extension(category)
    if schema is not None:
        # A whole extension: the strictest classification among its attributes.
        entries = [
            entry
            for key, entry in dictionary.entries.items()
            if key.startswith(schema.id + ":")
        ]
        strictest = max(
            (CLASSIFICATIONS.index(e.classification) for e in entries), default=0
        )
        return SharedItem(
            f"all of {schema.name}", CLASSIFICATIONS[strictest], schema.description
        )

    urn, _colon, name = category.rpartition(":")
    entry = dictionary.entries.get(category) or dictionary.entries.get(
        f"{urn}:{name.partition('.')[0]}"
    )
    if entry is None:
        return SharedItem(name, "unclassified", "")
    return SharedItem(name, entry.classification, entry.purpose)


def grant_request(offer: ConsentOffer, users: ResourceType) -> GrantRequest:
    """The consent service's request for agreeing to ``offer`` on the page."""
    return GrantRequest(
        purpose=offer.purpose,
        recipient=offer.recipient,
        data_categories=canonical_categories(users, offer.data_categories),
        notice_version=offer.notice_version,
        capture_method=CAPTURE_METHOD,
    )
