"""Criterion values from metric rows, aggregated in SQL: a few queries whatever the number of partners.

Each criterion asks for one metric aggregated over one window ending on the evaluation day.
Criteria sharing a window are answered together: one grouped query for sums, counts and averages,
one for the latest value per partner and metric, one for certifications valid on the day.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Avg, Count, F, Sum, Window
from django.db.models.functions import RowNumber

from programs.models import Certification, Metric, MetricValue

from .models import window_bounds

Aggregation = Metric.Aggregation
_GROUPED = {Aggregation.SUM, Aggregation.COUNT, Aggregation.AVERAGE}
_LATEST = {Aggregation.LATEST, Aggregation.BOOLEAN}
# What a partner with no row in the window has: nothing summed is 0, but an average of nothing is unknown.
_EMPTY: dict[str, Decimal | None] = {
    Aggregation.SUM: Decimal(0),
    Aggregation.COUNT: Decimal(0),
    Aggregation.BOOLEAN: Decimal(0),
    Aggregation.CERTIFICATIONS: Decimal(0),
    Aggregation.AVERAGE: None,
    Aggregation.LATEST: None,
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Measure:
    """What one criterion measures: a metric, how it aggregates, over which window."""

    key: str
    metric_id: int
    aggregation: str
    window: str


class CriterionValues:
    """The values of many criteria for many partners; a partner with no rows gets the empty values."""

    def __init__(self, measures: Iterable[Measure], found: dict):
        measures = list(measures)
        self._empty = {measure.key: _EMPTY[measure.aggregation] for measure in measures}
        # One dict per partner with metric values, built in one pass over what the queries found.
        keys_of: dict[tuple[int, str], list[str]] = defaultdict(list)
        for measure in measures:
            keys_of[(measure.metric_id, measure.window)].append(measure.key)
        self._rows: dict[int, dict[str, Decimal | None]] = {}
        for found_key, by_partner in found.items():
            keys = keys_of.get(found_key, ())
            for partner_id, value in by_partner.items():
                row = self._rows.get(partner_id)
                if row is None:
                    row = self._rows[partner_id] = dict(self._empty)
                for key in keys:
                    row[key] = value

    def for_partner(self, partner_id: int) -> dict[str, Decimal | None]:
        """Return the partner's value of every criterion (do not change the dict: it may be shared)."""
        return self._rows.get(partner_id, self._empty)

    def value(self, key: str, partner_id: int) -> Decimal | None:
        return self.for_partner(partner_id)[key]


def criterion_values(measures: Iterable[Measure], as_of: dt.date, **partners) -> CriterionValues:
    """Return the values of `measures` on `as_of` for the partners selected by `partners`.

    `partners` filters metric rows by partner, e.g. `partner_id__in=[…]` or `partner_id__gte=lo, partner_id__lte=hi`.
    """
    measures = list(measures)
    found: dict[tuple[int, str], dict[int, Decimal]] = defaultdict(dict)
    by_window: dict[str, list[Measure]] = defaultdict(list)
    for measure in measures:
        by_window[measure.window].append(measure)
    for window, group in by_window.items():
        start, end = window_bounds(window, as_of)
        grouped = {m.metric_id: m.aggregation for m in group if m.aggregation in _GROUPED}
        latest = {m.metric_id: m.aggregation for m in group if m.aggregation in _LATEST}
        certified = {m.metric_id for m in group if m.aggregation == Aggregation.CERTIFICATIONS}
        rows = MetricValue.objects.filter(recorded_on__range=(start, end), **partners)
        if grouped:
            _grouped(rows.filter(metric_id__in=grouped), grouped, window, found)
        if latest:
            _latest(rows.filter(metric_id__in=latest), latest, window, found)
        if certified:
            valid = Certification.objects.valid_on(end).filter(metric_id__in=certified, **partners)
            holders = valid.values_list("partner_id", "metric_id").annotate(holders=Count("id"))
            for partner_id, metric_id, holder_count in holders:
                found[(metric_id, window)][partner_id] = Decimal(holder_count)
    return CriterionValues(measures, found)


def _grouped(rows, aggregations: dict[int, str], window: str, found: dict) -> None:
    aggregates = rows.values_list("partner_id", "metric_id").annotate(
        summed=Sum("value"), recorded=Count("id"), mean=Avg("value")
    )
    for partner_id, metric_id, summed, recorded, mean in aggregates:
        aggregation = aggregations[metric_id]
        if aggregation == Aggregation.SUM:
            value = summed
        elif aggregation == Aggregation.COUNT:
            value = Decimal(recorded)
        else:
            value = Decimal(mean).quantize(CENT)
        found[(metric_id, window)][partner_id] = value


def _latest(rows, aggregations: dict[int, str], window: str, found: dict) -> None:
    # One value per partner and metric per day (a unique constraint), so "latest" is well defined.
    if connection.vendor == "postgresql":  # DISTINCT ON reads the index in order: no window sort
        newest = rows.order_by("partner_id", "metric_id", "-recorded_on").distinct("partner_id", "metric_id")
    else:
        newest = rows.annotate(
            row=Window(RowNumber(), partition_by=[F("partner_id"), F("metric_id")], order_by=F("recorded_on").desc())
        ).filter(row=1)
    for partner_id, metric_id, value in newest.values_list("partner_id", "metric_id", "value"):
        if aggregations[metric_id] == Aggregation.BOOLEAN:
            value = Decimal(1 if value else 0)
        found[(metric_id, window)][partner_id] = value
