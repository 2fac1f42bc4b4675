"""The programme report: training completion and the referral funnel.

Every figure is a count of distinct employees or referrals computed in SQL.
A count between 1 and ``minimum - 1`` is suppressed (shown as null), and so is
every rate built on a suppressed count, so that no figure points at a few
people. Zero is shown: it names nobody.

TODO: suppression is per cell; someone holding both the "all" and the "cohort"
figures can subtract them to recover a suppressed "rest" count. Complementary
suppression (hiding a second cell as well) is not implemented.

The median time from completion to contact is computed in SQL on both
databases: the durations are ordered and the middle one (or the mean of the
middle two) is read with ``LIMIT``/``OFFSET``; it is suppressed like a count
when fewer than ``minimum`` referrals reached contact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, and_, case, extract, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from scimserver.events.models import LearningEvent, Referral
from scimserver.events.rules import ReferralRule, RuleSet
from scimserver.models import Membership

logger = logging.getLogger(__name__)

DONE_VERBS = ("completed", "passed")
STAGES = ("eligible", "consented", "sent", "acknowledged", "contactMade")


@dataclass(frozen=True)
class Period:
    """Events and referrals from ``since`` (inclusive) to ``until`` (exclusive)."""

    since: datetime | None = None
    until: datetime | None = None

    def covers(self, column: Any) -> ColumnElement[bool]:
        """SQL condition: ``column`` lies in the period."""
        conditions = []
        if self.since is not None:
            conditions.append(column >= self.since)
        if self.until is not None:
            conditions.append(column < self.until)
        return and_(*conditions) if conditions else and_(True)


@dataclass(frozen=True)
class Segment:
    """Everyone, the direct members of a cohort Group, or everyone else."""

    group_id: str | None = None
    inside: bool = True

    def on(self, user_id: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """SQL condition: the User in ``user_id`` belongs to the segment."""
        if self.group_id is None:
            return and_(True)
        members = select(Membership.member_id).where(
            Membership.group_id == self.group_id
        )
        return user_id.in_(members) if self.inside else user_id.not_in(members)


def programme_report(
    session: Session,
    rules: RuleSet,
    period: Period,
    minimum: int,
    cohort_group: str | None = None,
) -> dict[str, Any]:
    """The report for everyone, and for a cohort Group and the rest if given."""
    segments = {"all": Segment()}
    if cohort_group is not None:
        segments["cohort"] = Segment(cohort_group, inside=True)
        segments["rest"] = Segment(cohort_group, inside=False)

    body: dict[str, Any] = {}
    for name, condition in segments.items():
        body[name] = {
            "modules": _modules(session, period, condition, minimum),
            "funnels": [
                _funnel(session, rule, period, condition, minimum)
                for rule in rules.rules
            ],
        }
    return {
        "period": {
            "since": period.since.isoformat() if period.since else None,
            "until": period.until.isoformat() if period.until else None,
        },
        "minimumCount": minimum,
        "cohortGroup": cohort_group,
        "segments": body,
    }


def suppress(count: int, minimum: int) -> int | None:
    """``count``, or None when it is small enough to point at individuals."""
    return None if 0 < count < minimum else count


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """A share rounded to four places; None when a count is suppressed or zero."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def _modules(
    session: Session,
    period: Period,
    segment: Segment,
    minimum: int,
) -> list[dict[str, Any]]:
    """Employees who engaged with each module and those who completed it."""
    done = case((LearningEvent.verb.in_(DONE_VERBS), LearningEvent.user_id))
    query = (
        select(
            LearningEvent.module_id,
            func.count(LearningEvent.user_id.distinct()),
            func.count(done.distinct()),
        )
        .where(period.covers(LearningEvent.occurred), segment.on(LearningEvent.user_id))
        .group_by(LearningEvent.module_id)
        .order_by(LearningEvent.module_id)
    )

    rows = []
    for module_id, engaged, completed in session.execute(query):
        shown_engaged = suppress(engaged, minimum)
        shown_completed = suppress(completed, minimum) if shown_engaged else None
        rows.append(
            {
                "moduleId": module_id,
                "engaged": shown_engaged,
                "completed": shown_completed,
                "completionRate": rate(shown_completed, shown_engaged),
            }
        )
    return rows


def _funnel(
    session: Session,
    rule: ReferralRule,
    period: Period,
    segment: Segment,
    minimum: int,
) -> dict[str, Any]:
    """Eligible -> consented -> sent -> acknowledged -> contact made, for a rule."""
    eligible_query = select(func.count(LearningEvent.user_id.distinct())).where(
        LearningEvent.module_id == rule.module,
        LearningEvent.verb == rule.verb,
        period.covers(LearningEvent.occurred),
        segment.on(LearningEvent.user_id),
    )
    referrals = select(
        func.count(Referral.id),
        func.count(Referral.sent_at),
        func.count(Referral.acknowledged_at),
        func.count(Referral.contact_made_at),
    ).where(
        Referral.origin == f"rule:{rule.name}",
        period.covers(Referral.created),
        segment.on(Referral.user_id),
    )

    eligible = session.scalar(eligible_query) or 0
    counts = [eligible, *session.execute(referrals).one()]
    shown = [suppress(int(count), minimum) for count in counts]
    stages = dict(zip(STAGES, shown, strict=True))
    conversion = {
        later: rate(stages[later], stages[earlier])
        for earlier, later in pairwise(STAGES)
    }
    median = _median_hours_to_contact(session, rule, period, segment, minimum)
    return {
        "rule": rule.name,
        "moduleId": rule.module,
        "connector": rule.connector,
        **stages,
        "conversion": conversion,
        "medianHoursToContact": median,
    }


def _median_hours_to_contact(
    session: Session,
    rule: ReferralRule,
    period: Period,
    segment: Segment,
    minimum: int,
) -> float | None:
    """Median hours from the first completion of the module to contact made."""
    completed = (
        select(func.min(LearningEvent.occurred))
        .where(
            LearningEvent.user_id == Referral.user_id,
            LearningEvent.module_id == Referral.module_id,
            LearningEvent.verb.in_(DONE_VERBS),
        )
        .scalar_subquery()
    )
    seconds = _seconds_between(session, completed, Referral.contact_made_at)
    durations = (
        select(seconds.label("seconds"))
        .where(
            Referral.origin == f"rule:{rule.name}",
            period.covers(Referral.created),
            segment.on(Referral.user_id),
        )
        .subquery()
    )
    known = durations.c.seconds.is_not(None)
    count = session.scalar(select(func.count()).select_from(durations).where(known))
    if not count or count < minimum:
        return None

    middle = (
        select(durations.c.seconds)
        .where(known)
        .order_by(durations.c.seconds)
        .limit(2 - count % 2)
        .offset((count - 1) // 2)
        .subquery()
    )
    value = session.scalar(select(func.avg(middle.c.seconds)))
    return None if value is None else round(float(value) / 3600, 2)


def _seconds_between(
    session: Session,
    start: ColumnElement[Any],
    end: InstrumentedAttribute[datetime | None],
) -> ColumnElement[Any]:
    """``end - start`` in seconds; None when either is None."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0
