"""Metric values import from CSV whole or not at all; every bad row is named with its number."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from programs.models import Metric, MetricImport, MetricValue
from programs.services import import_metric_values
from tests.factories import PartnerFactory

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def metrics(db):
    return {
        "arr": Metric.objects.create(key="arr_sourced", name="ARR sourced", unit="currency", aggregation="sum"),
        "csat": Metric.objects.create(key="csat", name="CSAT", unit="percent", aggregation="average"),
        "listed": Metric.objects.create(key="listed", name="Listed", unit="boolean", aggregation="boolean"),
        "certs": Metric.objects.create(key="certs", name="Certifications", unit="count", aggregation="certifications"),
    }


def run_import(text, by):
    return import_metric_values(text.encode(), file_name="q3.csv", by=by, today=TODAY)


def test_a_good_file_is_imported_with_its_source(metrics, program_manager):
    PartnerFactory(slug="northwind")
    batch = run_import(
        "partner,metric,recorded_on,value,source\n"
        'northwind,arr_sourced,2026-06-30,"80,000",CRM Q2\n'
        "northwind,csat,2026-06-30,91.5,\n",
        program_manager,
    )
    assert batch.row_count == 2
    arr = MetricValue.objects.get(metric=metrics["arr"])
    assert (arr.value, arr.source, arr.metric_import) == (Decimal(80_000), "CRM Q2", batch)
    assert MetricValue.objects.get(metric=metrics["csat"]).source == "CSV import: q3.csv"


def test_a_file_with_any_bad_row_is_refused_whole_with_every_row_named(metrics, program_manager):
    PartnerFactory(slug="northwind")
    text = (
        "partner,metric,recorded_on,value\n"
        "northwind,arr_sourced,2026-06-30,1000\n"  # fine, but not imported: the file is refused whole
        "nobody,arr_sourced,2026-06-30,1000\n"
        "northwind,revenue,2026-06-30,1000\n"
        "northwind,csat,30/06/2026,101\n"
        "northwind,listed,2027-01-01,2\n"
        "northwind,certs,2026-06-30,1\n"
        "northwind,arr_sourced,2026-06-30,-5\n"
        "northwind,arr_sourced,2026-06-30,1e400\n"
        "northwind,arr_sourced,2026-06-30,1000\n"
    )
    with pytest.raises(ValidationError) as refused:
        run_import(text, program_manager)
    messages = refused.value.messages
    assert messages[0].startswith("Nothing was imported")
    assert "Row 3: no partner with the slug “nobody”." in messages
    assert "Row 4: no metric with the key “revenue”." in messages
    assert (
        "Row 5: “30/06/2026” is not a date as YYYY-MM-DD; CSAT is a percentage: use a number from 0 to 100." in messages
    )
    assert "Row 6: 2027-01-01 is in the future; Listed is yes/no: use 1 for yes and 0 for no." in messages
    assert "Row 7: Certifications is counted from certifications; record those instead." in messages
    assert "Row 8: ARR sourced cannot be negative." in messages
    assert "Row 9: “1e400” is not a usable number." in messages
    assert "Row 10: the same partner, metric and day as row 2." in messages
    assert not MetricValue.objects.exists() and not MetricImport.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"partner,metric,value\nnorthwind,arr_sourced,1\n", "missing: recorded_on"),
        (b"partner,metric,recorded_on,value\n", "no rows"),
        (b"", "missing: partner, metric, recorded_on, value"),
    ],
)
def test_a_file_that_is_not_the_expected_csv_says_what_is_wrong(metrics, program_manager, content, message):
    with pytest.raises(ValidationError, match=message):
        import_metric_values(content, file_name="x.csv", by=program_manager, today=TODAY)
    assert not MetricValue.objects.exists()


def test_importing_a_corrected_file_again_replaces_the_values_of_the_same_day(metrics, program_manager):
    PartnerFactory(slug="northwind")
    run_import("partner,metric,recorded_on,value\nnorthwind,arr_sourced,2026-06-30,1000\n", program_manager)
    run_import("partner,metric,recorded_on,value\nnorthwind,arr_sourced,2026-06-30,1500\n", program_manager)
    assert list(MetricValue.objects.values_list("value", flat=True)) == [Decimal(1500)]


def test_the_admin_import_page_lists_the_bad_rows_and_imports_nothing(client, metrics, program_manager):
    PartnerFactory(slug="northwind")
    client.force_login(program_manager)
    url = reverse("admin:programs_metricvalue_import")
    upload = SimpleUploadedFile("bad.csv", b"partner,metric,recorded_on,value\nnorthwind,arr_sourced,2026-06-30,abc\n")
    response = client.post(url, {"file": upload})
    assert response.status_code == 400
    assert "Row 2: “abc” is not a number." in response.content.decode()
    assert not MetricValue.objects.exists()

    good = SimpleUploadedFile("good.csv", b"partner,metric,recorded_on,value\nnorthwind,arr_sourced,2026-06-30,10\n")
    response = client.post(url, {"file": good}, follow=True)
    assert "Imported 1 metric values from good.csv" in response.content.decode()


def test_people_without_the_add_permission_cannot_import(client, metrics, support_manager):
    client.force_login(support_manager)
    assert client.get(reverse("admin:programs_metricvalue_import")).status_code == 403
