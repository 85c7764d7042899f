import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from support.insight.quarter import refresh_quarter_figures
from support.models import ActionItem, QuarterFigures
from support.tickets import lifecycle
from tests.factories import copy_ticket, file_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(ticket, support_l1):
    lifecycle.add_comment(ticket, by=support_l1, body="On it.")
    return lifecycle.transition_ticket(ticket, action="resolve", by=support_l1)


def test_the_scoreboard_shows_the_month_against_the_targets_and_a_12_week_chart(client, answered, support_manager):
    client.force_login(support_manager)
    page = client.get(reverse("scoreboard")).content.decode()
    assert "First response time (average)" in page and "&lt; 2 hours" in page
    assert "Escalation rate" in page and "met" in page
    assert page.count('<rect class="bar') == 12 and "<svg" in page and "SLA compliance, last 12 weeks" in page
    assert answered.partner.name in page  # by-partner table, with the monthly review link
    assert reverse("monthly_review", args=[answered.partner_id]) in page


def test_the_scoreboard_takes_the_same_queries_at_two_sizes(
    client, answered, support_manager, django_assert_max_num_queries
):
    client.force_login(support_manager)
    with django_assert_max_num_queries(24):
        client.get(reverse("scoreboard"))
    copy_ticket(answered, 40)
    file_ticket(answered.partner, answered.submitter, title="another")
    with django_assert_max_num_queries(24):
        client.get(reverse("scoreboard"))


def test_a_month_with_no_tickets_reads_no_data(client, support_manager):
    client.force_login(support_manager)
    page = client.get(reverse("scoreboard"), {"month": "2020-01"}).content.decode()
    assert "January 2020" in page and "no data" in page and "No tickets this month." in page


def test_the_tier_report_puts_promised_next_to_measured_and_exports_csv(client, answered, program_manager):
    client.force_login(program_manager)
    page = client.get(reverse("tier_report")).content.decode()
    assert "Premier tier" in page and "1 h" in page  # the P2 promise of the plan: 60 minutes
    response = client.get(reverse("tier_report"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"] == "text/csv"
    assert rows[0]["tier"] == "Premier tier" and rows[0]["severity"] == "P2"
    assert rows[0]["promised_first_response_min"] == "60" and rows[0]["first_response_within_sla"] == "1.0"


def test_the_monthly_review_lists_the_partners_tickets_and_nobody_elses(
    client, answered, other_partner, support_manager
):
    file_ticket(other_partner.partner, other_partner, title="Contoso only")
    client.force_login(support_manager)
    url = reverse("monthly_review", args=[answered.partner_id])
    page = client.get(url).content.decode()
    assert answered.title in page and "Contoso only" not in page
    assert "By severity" in page and '<span class="sev sev-P2">P2</span></td><td>1</td>' in page
    response = client.get(url, {"format": "csv", "month": timezone.now().strftime("%Y-%m")})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["ticket"] for row in rows] == [str(answered.pk)]
    assert rows[0]["first_contact_resolution"] == "True"


def test_action_items_are_added_and_closed_with_what_was_done(client, answered, support_manager):
    client.force_login(support_manager)
    add = reverse("add_action_item", args=[answered.partner_id])
    response = client.post(add, {"description": ""})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert not ActionItem.objects.exists()
    response = client.post(add, {"description": "Share the P1 runbook with their L1", "due_on": "2026-12-15"})
    assert response.status_code == 302
    item = ActionItem.objects.get()
    assert item.source == "monthly_review" and item.created_by == support_manager and item.review_month.day == 1
    close = reverse("close_action_item", args=[item.pk])
    response = client.post(close, {"outcome": ""})
    assert response.status_code == 400 and "Say what was done" in response.content.decode()
    response = client.post(close, {"outcome": "Sent and walked through.", "next": "https://evil.test/"})
    assert response.status_code == 302 and response["Location"] == reverse("scoreboard")
    item.refresh_from_db()
    assert not item.is_open and item.outcome == "Sent and walked through."


def test_support_agents_read_reviews_but_only_managers_change_action_items(client, answered, support_l1):
    client.force_login(support_l1)
    assert client.get(reverse("monthly_review", args=[answered.partner_id])).status_code == 200
    response = client.post(reverse("add_action_item", args=[answered.partner_id]), {"description": "x"})
    assert response.status_code == 403 and not ActionItem.objects.exists()


def test_partners_see_their_own_support_this_quarter(client, answered, other_partner, partner_member):
    file_ticket(other_partner.partner, other_partner, title="Contoso only")
    client.force_login(partner_member)
    page = client.get(reverse("ticket_list")).content.decode()
    assert "Your support this quarter" in page
    assert "<dt>Tickets</dt><dd>1</dd>" in page  # Northwind's one ticket, not Contoso's


def test_the_quarter_figures_are_read_from_a_row_the_periodic_task_refreshes(client, answered, partner_member):
    client.force_login(partner_member)
    assert "<dt>Tickets</dt><dd>1</dd>" in client.get(reverse("ticket_list")).content.decode()
    file_ticket(answered.partner, partner_member, title="Filed after the figures")
    page = client.get(reverse("ticket_list")).content.decode()
    assert "<dt>Tickets</dt><dd>1</dd>" in page and "Figures as of" in page  # the stored row, until the task runs
    assert refresh_quarter_figures() == 1
    assert "<dt>Tickets</dt><dd>2</dd>" in client.get(reverse("ticket_list")).content.decode()


@time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False)
def test_the_quarter_reads_first_to_last_day_in_the_partners_zone(client, answered, partner_member):
    partner = answered.partner
    partner.time_zone = "America/Los_Angeles"
    partner.save(update_fields=["time_zone"])
    client.force_login(partner_member)
    assert "Tickets received 1 Oct – 31 Dec 2026" in client.get(reverse("ticket_list")).content.decode()


def test_rows_of_quarters_that_ended_are_dropped(answered):
    refresh_quarter_figures()
    later = timezone.now() + timedelta(days=200)
    assert refresh_quarter_figures(now=later) == 0  # no tickets received in that quarter
    assert not QuarterFigures.objects.exists()


@pytest.mark.parametrize("month", ["0001-01", "9999-12", "1899-12", "2100-01", "2026-13", "soon"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_a_month_reports_cannot_show_is_refused_with_the_reason(client, answered, support_manager, month, zone):
    partner = answered.partner
    partner.time_zone = zone
    partner.save(update_fields=["time_zone"])
    client.force_login(support_manager)
    review = reverse("monthly_review", args=[partner.pk])
    for url, query in [
        (reverse("scoreboard"), {"month": month}),
        (review, {"month": month}),
        (review, {"month": month, "format": "csv"}),
    ]:
        response = client.get(url, query)
        assert response.status_code == 400, (url, query)
        assert "YYYY-MM" in response.content.decode() or "Reports cover January 1900 to December 2099" in (
            response.content.decode()
        )
    response = client.post(reverse("add_action_item", args=[partner.pk]) + f"?month={month}", {"description": "x"})
    assert response.status_code == 400 and not ActionItem.objects.exists()


def test_the_first_and_last_months_show_and_link_only_inside_the_range(client, answered, support_manager):
    client.force_login(support_manager)
    first = client.get(reverse("scoreboard"), {"month": "1900-01"}).content.decode()
    assert "January 1900" in first and "?month=1899-12" not in first and "?month=1900-02" in first
    last = client.get(reverse("monthly_review", args=[answered.partner_id]), {"month": "2099-12", "format": "csv"})
    assert last.status_code == 200


def test_the_monthly_review_csv_never_writes_a_typed_title_as_a_formula(
    client, partner, partner_member, support_manager, plan
):
    for title in ['=HYPERLINK("http://evil.test","Click")', "@SUM(A1:A9)", "+1+1", "-2+3"]:
        file_ticket(partner, partner_member, title=title)
    client.force_login(support_manager)
    response = client.get(reverse("monthly_review", args=[partner.pk]), {"format": "csv"})
    titles = [row[1] for row in csv.reader(io.StringIO(response.content.decode()))][1:]
    assert titles and all(title.startswith("'") for title in titles)


def test_the_scoreboard_headline_and_its_chart_tell_the_same_story(
    client, plan, partner, partner_member, support_manager
):
    from datetime import timedelta as td

    late = file_ticket(partner, partner_member, title="Answered far too late", at=timezone.now() - td(days=1))
    lifecycle.transition_ticket(late, action="resolve", by=support_manager)  # past its first-response target
    client.force_login(support_manager)
    page = client.get(reverse("scoreboard")).content.decode()
    row = page[page.index("Within SLA (each plan&#x27;s targets)") :]
    row = row[: row.index("</tr>")]
    assert "≥ 90%" in row and "missed" in row
