"""Criterion values in SQL: each metric aggregates over its window only; lifetime achievement never counts."""

import datetime as dt
from decimal import Decimal

import pytest

from programs.models import Certification, Metric, MetricValue
from tests.factories import PartnerFactory
from tiering.measures import Measure, criterion_values
from tiering.models import window_bounds

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture
def metrics(db):
    def metric(key, unit, aggregation):
        return Metric.objects.create(key=key, name=key, unit=unit, aggregation=aggregation)

    return {
        "sum": metric("arr", "currency", "sum"),
        "latest": metric("sellers", "count", "latest"),
        "average": metric("csat", "percent", "average"),
        "count": metric("deals", "count", "count"),
        "boolean": metric("listed", "boolean", "boolean"),
        "certifications": metric("certs", "count", "certifications"),
    }


def values_of(metrics, partner, window="trailing_12m", as_of=AS_OF):
    measures = [Measure(key, m.pk, m.aggregation, window) for key, m in metrics.items()]
    return criterion_values(measures, as_of, partner_id__in=[partner.pk]).for_partner(partner.pk)


def put(partner, metric, *rows):
    for day, value in rows:
        MetricValue.objects.create(partner=partner, metric=metric, recorded_on=day, value=Decimal(value), source="t")


def test_each_aggregation_reads_only_the_window(metrics):
    partner = PartnerFactory()
    old, early, late = dt.date(2025, 6, 30), dt.date(2025, 7, 1), dt.date(2026, 6, 30)
    put(partner, metrics["sum"], (old, 900), (early, 100), (late, 50))
    put(partner, metrics["latest"], (early, 7), (late, 3), (dt.date(2026, 7, 1), 99))
    put(partner, metrics["average"], (old, 10), (early, 80), (late, 91))
    put(partner, metrics["count"], (old, 1), (early, 1), (dt.date(2026, 1, 1), 1))
    put(partner, metrics["boolean"], (early, 1), (late, 0))

    values = values_of(metrics, partner)

    assert window_bounds("trailing_12m", AS_OF) == (early, late)
    assert values["sum"] == 150  # the 900 of a day before the window is lifetime achievement
    assert values["latest"] == 3  # a value after the evaluation day is not seen
    assert values["average"] == Decimal("85.50")
    assert values["count"] == 2
    assert values["boolean"] == 0  # the latest answer in the window is "no"


def test_a_partner_with_nothing_in_the_window_has_zero_sums_and_no_latest_value(metrics):
    partner = PartnerFactory()
    put(partner, metrics["latest"], (dt.date(2024, 1, 1), 8))
    values = values_of(metrics, partner)
    assert (values["sum"], values["count"], values["boolean"], values["certifications"]) == (0, 0, 0, 0)
    assert values["latest"] is None and values["average"] is None


def test_a_certification_stops_counting_on_its_expiry_date(metrics):
    partner = PartnerFactory()
    for expires in (dt.date(2026, 6, 30), dt.date(2026, 7, 1), None):
        Certification.objects.create(
            partner=partner,
            metric=metrics["certifications"],
            name="Pro",
            earned_on=dt.date(2024, 1, 1),
            expires_on=expires,
        )
    Certification.objects.create(
        partner=partner, metric=metrics["certifications"], name="Future", earned_on=dt.date(2026, 7, 1)
    )
    assert values_of(metrics, partner)["certifications"] == 2
    assert values_of(metrics, partner, as_of=dt.date(2026, 6, 29))["certifications"] == 3


def test_other_partners_figures_never_mix_in(metrics):
    partner, other = PartnerFactory(), PartnerFactory()
    put(partner, metrics["sum"], (AS_OF, 10))
    put(other, metrics["sum"], (AS_OF, 1000))
    assert values_of(metrics, partner)["sum"] == 10


@pytest.mark.parametrize(
    ("window", "bounds"),
    [
        ("trailing_12m", (dt.date(2025, 3, 1), dt.date(2026, 2, 28))),
        ("trailing_3m", (dt.date(2025, 11, 29), dt.date(2026, 2, 28))),
        ("calendar_year", (dt.date(2026, 1, 1), dt.date(2026, 2, 28))),
        ("previous_year", (dt.date(2025, 1, 1), dt.date(2025, 12, 31))),
    ],
)
def test_windows_end_on_the_evaluation_day(window, bounds):
    assert window_bounds(window, dt.date(2026, 2, 28)) == bounds
