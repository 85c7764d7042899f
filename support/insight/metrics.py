"""Support metrics in one place, computed in SQL: volume, SLA adherence, escalation and reopen rates, CSAT,
time to resolution, first-contact resolution and the weekly compliance trend.

Every figure is about the tickets *received* in the period asked for (a cohort), so a month's
figures do not change meaning when they are read later, only fill in as tickets finish.
- Business times are the ones stored on each ticket when it was answered and resolved
  (`first_response_business_seconds`, `resolution_business_seconds`: business time of the ticket's
  plan, paused time left out). Medians and p90 are nearest-rank percentiles.
- Within SLA, per target: of the tickets whose target is settled (met, or due and passed), the
  share met. SLA compliance combines both targets: targets met / targets settled.
- Escalation rate: share of tickets escalated past the level that took them in (by the sweep, by
  hand or on the partner's request). Reopen rate: share of resolved tickets that were reopened.
- First-contact resolution: share of resolved tickets resolved on our first reply (sla.outcome).
- Deflection rate: of the times a partner saw suggestions and then either said "this solved it" or
  submitted the ticket anyway, the share solved (counted by when it happened).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import TruncWeek
from django.utils import timezone

from support.models import CsatResponse, Deflection, Escalation, Ticket

DIMENSIONS = {
    "partner": F("partner_id"),
    "plan": F("plan_id"),
    "severity": F("severity"),
    "tier": F("partner__standings__tier_id"),
    "week": TruncWeek("received_at"),
}


@dataclass
class SupportFigures:
    tickets: int = 0
    first_response_avg: float | None = None  # seconds of business time
    first_response_median: float | None = None
    first_response_p90: float | None = None
    resolution_avg: float | None = None
    resolution_median: float | None = None
    resolution_p90: float | None = None
    first_response_settled: int = 0
    first_response_met: int = 0
    resolution_settled: int = 0
    resolution_met: int = 0
    escalated: int = 0
    resolved: int = 0
    reopened: int = 0
    first_contact_resolved: int = 0
    csat_average: float | None = None
    csat_responses: int = 0

    @property
    def first_response_within(self) -> float | None:
        return _share(self.first_response_met, self.first_response_settled)

    @property
    def resolution_within(self) -> float | None:
        return _share(self.resolution_met, self.resolution_settled)

    @property
    def sla_compliance(self) -> float | None:
        return _share(
            self.first_response_met + self.resolution_met, self.first_response_settled + self.resolution_settled
        )

    @property
    def escalation_rate(self) -> float | None:
        return _share(self.escalated, self.tickets)

    @property
    def reopen_rate(self) -> float | None:
        return _share(self.reopened, self.resolved)

    @property
    def first_contact_resolution_rate(self) -> float | None:
        return _share(self.first_contact_resolved, self.resolved)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def received_between(start: datetime, end: datetime, tickets: QuerySet | None = None) -> QuerySet:
    """Return the tickets received in [start, end)."""
    tickets = Ticket.objects.all() if tickets is None else tickets
    return tickets.filter(received_at__gte=start, received_at__lt=end)


def figures_by(
    tickets: QuerySet,
    *,
    by: tuple[str, ...] = (),
    now: datetime | None = None,
    percentiles: bool = True,
    csat: bool = True,
    escalations: bool = True,
) -> dict[tuple, SupportFigures]:
    """Return the figures of `tickets`, grouped by the dimensions `by` (keys are tuples of their values).

    Percentiles and CSAT cost a query each (two for percentiles), escalations a lookup per ticket;
    callers that show none of them skip them.
    """
    now = now or timezone.now()
    keys = [f"g{i}" for i in range(len(by))]
    grouped = tickets.order_by().annotate(**{key: DIMENSIONS[name] for key, name in zip(keys, by, strict=True)})
    escalated = Exists(Escalation.objects.filter(ticket=OuterRef("pk")).exclude(cause=Escalation.Cause.ENTRY))
    grouped = grouped.annotate(escalated=escalated if escalations else Value(False))
    rows = (
        (grouped.values(*keys) if keys else grouped.annotate(whole=Value(0)).values("whole"))
        .annotate(**_counts(now))
        .order_by()
    )
    result = {}
    for row in rows:
        key = tuple(row.pop(k) for k in keys)
        row.pop("whole", None)
        row["escalated"] = row.pop("escalated_count")
        row["reopened"] = row.pop("reopened_count")
        result[key] = SupportFigures(**row)
    if percentiles:
        _add_percentiles(result, grouped, keys, "first_response_business_seconds", "first_response")
        _add_percentiles(result, grouped, keys, "resolution_business_seconds", "resolution")
    if csat:
        _add_csat(result, tickets, by, keys)
    return result


def _counts(now: datetime) -> dict:
    """Return the aggregates of one group of tickets: counts met and settled per target, averages, rates' parts."""
    first_settled = Q(first_response_at__isnull=False) | Q(first_response_due__lte=now)
    first_met = Q(first_response_at__isnull=False, first_response_at__lte=F("first_response_due"))
    resolution_settled = Q(resolved_at__isnull=False, resolution_due__isnull=False) | Q(
        resolved_at__isnull=True, resolution_due__lte=now
    )
    resolution_met = Q(resolved_at__isnull=False, resolved_at__lte=F("resolution_due"))
    resolved = Q(resolved_at__isnull=False) | Q(status=Ticket.Status.CLOSED)
    return {
        "tickets": Count("pk"),
        "first_response_avg": Avg("first_response_business_seconds"),
        "resolution_avg": Avg("resolution_business_seconds"),
        "first_response_settled": Count("pk", filter=first_settled),
        "first_response_met": Count("pk", filter=first_met),
        "resolution_settled": Count("pk", filter=resolution_settled),
        "resolution_met": Count("pk", filter=resolution_met),
        "escalated_count": Count("pk", filter=Q(escalated=True)),
        "resolved": Count("pk", filter=resolved),
        "reopened_count": Count("pk", filter=Q(reopened=True) & resolved),
        "first_contact_resolved": Count("pk", filter=Q(first_contact_resolution=True)),
    }


def _add_percentiles(result, grouped, keys, column, prefix) -> None:
    # Nearest-rank percentiles with window functions: the same SQL runs on PostgreSQL and SQLite.
    inner = grouped.filter(**{f"{column}__isnull": False}).annotate(v=F(column)).values_list(*keys, "v")
    sql, params = inner.query.sql_with_params()
    partition = f"PARTITION BY {', '.join(keys)}" if keys else ""
    group = f"GROUP BY {', '.join(keys)}" if keys else ""
    select_keys = "".join(f"{key}, " for key in keys)
    query = f"""
        SELECT {select_keys}
               MAX(CASE WHEN rn = (n + 1) / 2 THEN v END),
               MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END)
        FROM (SELECT {select_keys} v, ROW_NUMBER() OVER ({partition} ORDER BY v) AS rn,
                     COUNT(*) OVER ({partition}) AS n
              FROM ({sql}) AS base) AS ranked
        {group}
    """  # noqa: S608 (keys are g0, g1…; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for row in cursor.fetchall():
            key = _key(row[: len(keys)], grouped, keys)
            figures_ = result.setdefault(key, SupportFigures())
            setattr(figures_, f"{prefix}_median", row[-2])
            setattr(figures_, f"{prefix}_p90", row[-1])


def _key(values, grouped, keys) -> tuple:
    # Raw rows come back as the database stores them; convert dates like the ORM does (weeks).
    converted = []
    for value, key in zip(values, keys, strict=True):
        if isinstance(value, str) and isinstance(grouped.query.annotations[key], TruncWeek):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)
        converted.append(value)
    return tuple(converted)


def _add_csat(result, tickets, by, keys) -> None:
    responses = CsatResponse.objects.filter(ticket__in=tickets.order_by().values("pk"))
    annotations = {key: _through_ticket(DIMENSIONS[name]) for key, name in zip(keys, by, strict=True)}
    responses = responses.annotate(**annotations)
    # Grouped by the dimensions asked for: the rows' keys are known only at run time.
    grouped_responses: QuerySet[CsatResponse, Mapping[str, Any]] = (
        responses.values(*keys) if keys else responses.annotate(whole=Value(0)).values("whole")
    )
    rows = grouped_responses.annotate(avg=Avg("score"), n=Count("pk")).order_by()
    for row in rows:
        key = tuple(row[k] for k in keys)
        figures_ = result.setdefault(key, SupportFigures())
        figures_.csat_average, figures_.csat_responses = row["avg"], row["n"]


def _through_ticket(expression):
    if isinstance(expression, TruncWeek):
        return TruncWeek("ticket__received_at")
    return F(f"ticket__{expression.name}")


def overall_figures(tickets: QuerySet, now: datetime | None = None) -> SupportFigures:
    """Return the figures of `tickets` as one group."""
    return figures_by(tickets, now=now).get((), SupportFigures())


def deflection(start: datetime, end: datetime, partner=None) -> dict:
    """Return suggestion outcomes between start and end: opened, solved, submitted, and the rate."""
    events = Deflection.objects.filter(at__gte=start, at__lt=end)
    if partner is not None:
        events = events.filter(partner=partner)
    counts = dict(events.values_list("kind").annotate(n=Count("pk")).order_by())
    opened, solved, submitted = (counts.get(kind, 0) for kind in Deflection.Kind.values)
    return {"opened": opened, "solved": solved, "submitted": submitted, "rate": _share(solved, solved + submitted)}


# --- Periods --------------------------------------------------------------------------------------


# The months reports can show: every zone's midnight of their first and following month is a valid
# instant, and the previous and next month links stay inside.
FIRST_MONTH, LAST_MONTH = date(1900, 1, 1), date(2099, 12, 1)


def parse_month(text: str) -> date:
    """Return the first day of the month `text` names (YYYY-MM), or raise ValueError saying what is accepted."""
    try:
        month = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"“{text[:20]}” is not a month: write it as YYYY-MM, such as 2026-11.") from None
    if not FIRST_MONTH <= month <= LAST_MONTH:
        raise ValueError(f"Reports cover {FIRST_MONTH:%B %Y} to {LAST_MONTH:%B %Y}; {text} is outside them.")
    return month


def month_bounds(month: date, zone) -> tuple[datetime, datetime]:
    """Return the instants the calendar month of `month` starts and ends in `zone`."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return _midnight(first, zone), _midnight(following, zone)


def quarter_bounds(day: date, zone) -> tuple[datetime, datetime]:
    """Return the instants the calendar quarter of `day` starts and ends in `zone`."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = date(first.year + (first.month + 3 > 12), (first.month + 2) % 12 + 1, 1)
    return _midnight(first, zone), _midnight(following, zone)


def _midnight(day: date, zone) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def weekly_compliance(weeks: int, now: datetime | None = None) -> list[tuple[datetime, SupportFigures]]:
    """Return (week start, figures) for the last `weeks` weeks (Monday-based, UTC), oldest first."""
    now = now or timezone.now()
    this_monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    start = this_monday - timedelta(weeks=weeks - 1)
    tickets = received_between(start, this_monday + timedelta(weeks=1))
    grouped = figures_by(tickets, by=("week",), now=now, percentiles=False, csat=False, escalations=False)
    by_week = {key[0]: value for key, value in grouped.items()}
    return [
        (start + timedelta(weeks=i), by_week.get(start + timedelta(weeks=i), SupportFigures())) for i in range(weeks)
    ]


# --- Targets the support organisation holds itself to ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    figure: str  # attribute of SupportFigures
    label: str
    below: bool  # True: the figure must stay below `limit`; False: above it
    limit: float
    shown_as: str  # the target as people read it
    inclusive: bool = False  # the limit itself meets the target


TARGETS = (
    Target("first_response_avg", "First response time (average)", True, 2 * 3600, "< 2 hours"),
    Target("resolution_avg", "Resolution time (average)", True, 72 * 3600, "< 72 hours"),
    Target("csat_average", "Partner satisfaction (CSAT)", False, 4.0, "> 4.0 / 5 (8 / 10)"),
    Target("escalation_rate", "Escalation rate", True, 0.10, "< 10%"),
    # The 12-week chart's line: the headline tells the same story as the chart beside it.
    Target("sla_compliance", "Within SLA (each plan's targets)", False, 0.90, "≥ 90%", inclusive=True),
)


def against_targets(figures_: SupportFigures) -> list[tuple[Target, float | None, str]]:
    """Return (target, figure, status) for each target: status 'met', 'missed' or 'no data'."""
    rows = []
    for target in TARGETS:
        value = getattr(figures_, target.figure)
        if value is None:
            status = "no data"
        else:
            if target.below:
                met = value <= target.limit if target.inclusive else value < target.limit
            else:
                met = value >= target.limit if target.inclusive else value > target.limit
            status = "met" if met else "missed"
        rows.append((target, value, status))
    return rows
