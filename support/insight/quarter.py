"""“Your support this quarter”: each partner's figures for its running quarter, stored and refreshed.

The figures aggregate every ticket the partner received in the quarter (in its own time zone), so
computing them on each view of the ticket list grew with the partner's volume. A periodic task
recomputes all partners' rows in one grouped query per time zone; the page reads its row, and
computes it only when there is none yet (a new partner, a new quarter).
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from programs.models import Partner
from support.insight import metrics
from support.insight.metrics import SupportFigures
from support.models import QuarterFigures, Ticket

# Rows of quarters that ended are dropped: no quarter starts longer ago than this.
LONGEST_QUARTER = timedelta(days=93)


@dataclass(frozen=True)
class QuarterSummary:
    figures: SupportFigures
    start: datetime
    end: datetime  # exclusive: the first instant of the next quarter
    computed_at: datetime

    @property
    def last_day(self) -> datetime:
        """The quarter's last instant, for showing its range as first day – last day."""
        return self.end - timedelta(microseconds=1)


def partner_quarter(partner: Partner, now: datetime | None = None) -> QuarterSummary:
    """Return the partner's stored figures for its running quarter, computing them if none are stored."""
    now = now or timezone.now()
    start, end = _bounds(partner.time_zone, now)
    row = QuarterFigures.objects.filter(partner=partner, quarter_start=start).first()
    if row is None:
        tickets = metrics.received_between(start, end, Ticket.objects.filter(partner=partner))
        row = _store({partner.pk: metrics.overall_figures(tickets, now)}, start, now)[0]
    return QuarterSummary(SupportFigures(**row.figures), start, end, row.computed_at)


def refresh_quarter_figures(now: datetime | None = None) -> int:
    """Recompute the stored figures of every partner with tickets in its running quarter; return how many."""
    now = now or timezone.now()
    refreshed = 0
    for zone_name in Partner.objects.order_by().values_list("time_zone", flat=True).distinct():
        start, end = _bounds(zone_name, now)
        tickets = metrics.received_between(start, end, Ticket.objects.filter(partner__time_zone=zone_name))
        grouped = metrics.figures_by(tickets, by=("partner",), now=now)
        refreshed += len(_store({key[0]: figures for key, figures in grouped.items()}, start, now))
    QuarterFigures.objects.filter(quarter_start__lt=now - LONGEST_QUARTER).delete()
    return refreshed


def _bounds(zone_name: str, now: datetime) -> tuple[datetime, datetime]:
    zone = ZoneInfo(zone_name)
    return metrics.quarter_bounds(timezone.localdate(now, timezone=zone), zone)


def _store(figures: dict[int, SupportFigures], start: datetime, now: datetime) -> list[QuarterFigures]:
    rows = [
        QuarterFigures(partner_id=partner_id, quarter_start=start, figures=asdict(one), computed_at=now)
        for partner_id, one in figures.items()
    ]
    return QuarterFigures.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["partner", "quarter_start"],
        update_fields=["figures", "computed_at"],
    )
