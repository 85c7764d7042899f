"""The REST API for tickets, support plans, the knowledge base and staff tooling: what each person gets."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from support.models import Deflection, IdempotencyKey, Ticket, TicketEvent
from support.tickets import lifecycle
from tests.factories import article, copy_ticket, file_ticket

TICKETS = "/api/v1/tickets/"
NEW_TICKET = {
    "title": "Refunds fail for EU cards",
    "severity": "P2",
    "category": "defect",
    "customer_name": "Acme Retail GmbH",
    "environment": "production",
    "steps_to_reproduce": "Refund an EU card payment: HTTP 500.",
    "business_impact": "Refunds stuck for every EU customer.",
}


@pytest.fixture
def as_member(api_client_for, partner_member):
    return api_client_for(partner_member)


@pytest.fixture
def as_l1(api_client_for, support_l1):
    return api_client_for(support_l1)


# --- Reading tickets ---------------------------------------------------------------------------------


def test_a_partner_lists_its_own_tickets_only(as_member, ticket, other_partner, plan):
    theirs = file_ticket(other_partner.partner, other_partner, title="Contoso's outage")
    body = as_member.get(TICKETS).json()
    assert [row["id"] for row in body["results"]] == [ticket.pk]
    assert body["next"] is None
    assert theirs.pk not in [row["id"] for row in body["results"]]


def test_another_partners_ticket_answers_404_in_the_error_shape(api_client_for, other_partner, ticket):
    response = api_client_for(other_partner).get(f"{TICKETS}{ticket.pk}/")
    assert response.status_code == 404
    assert response.json() == {
        "message": "Not found: it does not exist, or it is not yours to see.",
        "code": "not_found",
        "fields": {},
    }


def test_a_ticket_carries_its_sla_deadlines_and_state(as_member, ticket):
    body = as_member.get(f"{TICKETS}{ticket.pk}/").json()
    assert body["sla"]["state"] == "ok"
    assert body["sla"]["first_response_due"] == ticket.first_response_due.isoformat().replace("+00:00", "Z")
    assert body["plan"] == "Premier"
    assert body["actions"] == []  # a received ticket: a partner can neither close nor reopen it


def test_staff_list_every_partners_tickets(as_l1, ticket, other_partner, plan):
    file_ticket(other_partner.partner, other_partner, title="Contoso's outage")
    assert len(as_l1.get(TICKETS).json()["results"]) == 2


def test_the_list_filters_and_orders_and_refuses_a_bad_filter_with_a_field_message(as_member, ticket, partner_member):
    file_ticket(ticket.partner, partner_member, title="Minor glitch", severity="P4")
    assert [r["severity"] for r in as_member.get(TICKETS, {"severity": "P4"}).json()["results"]] == ["P4"]
    ordered = as_member.get(TICKETS, {"ordering": "received_at"}).json()["results"]
    assert [r["severity"] for r in ordered] == ["P2", "P4"]
    bad = as_member.get(TICKETS, {"severity": "P9"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"
    assert "P9" in bad.json()["fields"]["severity"]


@pytest.mark.parametrize("ordering", ["-received_at", "received_at", "updated_at", "-id"])
def test_following_the_cursor_lists_every_ticket_once(as_member, ticket, partner, partner_member, ordering):
    for n in range(6):
        file_ticket(partner, partner_member, title=f"Issue {n}", severity="P3" if n % 2 else "P2")
    Ticket.objects.filter(pk__in=Ticket.objects.order_by("pk").values("pk")[:4]).update(received_at=ticket.received_at)
    seen, url = [], f"{TICKETS}?page_size=3&ordering={ordering}"
    while url:
        page = as_member.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(Ticket.objects.values_list("pk", flat=True))
    assert len(seen) == 7


@pytest.mark.parametrize(
    "instant", ["4942-05-19T23:23:20.6-16:20", "9999-12-31T23:59:59-14:00", "2026-11-30T10:00:00+25:00", "yesterday"]
)
def test_an_instant_the_database_cannot_hold_is_refused(as_member, ticket, instant):
    response = as_member.get(TICKETS, {"updated_since": instant})
    assert response.status_code == 400
    assert "updated_since" in response.json()["fields"]


def test_an_instant_with_an_offset_is_compared_in_utc(as_member, ticket):
    just_before = ticket.updated_at.astimezone(ZoneInfo("Pacific/Kiritimati")) - timedelta(seconds=1)
    found = as_member.get(TICKETS, {"updated_since": just_before.isoformat()}).json()["results"]
    assert [row["id"] for row in found] == [ticket.pk]


def test_a_partner_cannot_filter_by_another_partner(as_member, other_partner, ticket):
    response = as_member.get(TICKETS, {"partner": other_partner.partner.pk})
    assert response.status_code == 400
    assert "partner" in response.json()["fields"]


@pytest.mark.parametrize("size", [5, 60])
def test_the_list_costs_the_same_queries_at_any_size(as_member, ticket, size, django_assert_max_num_queries):
    copy_ticket(ticket, size)
    with django_assert_max_num_queries(6):
        response = as_member.get(TICKETS)
    assert len(response.json()["results"]) == min(size + 1, 50)


def test_the_timeline_hides_internal_notes_from_partners(as_member, as_l1, ticket, support_l1):
    lifecycle.add_comment(ticket, by=support_l1, body="Customer's DB is on an old version", public=False)
    lifecycle.add_comment(ticket, by=support_l1, body="We are on it.")
    partner_view = [e["body"] for e in as_member.get(f"{TICKETS}{ticket.pk}/events/").json()["results"]]
    staff_view = [e["body"] for e in as_l1.get(f"{TICKETS}{ticket.pk}/events/").json()["results"]]
    assert "We are on it." in partner_view and "Customer's DB is on an old version" not in partner_view
    assert "Customer's DB is on an old version" in staff_view


def test_the_timeline_filters_by_kind_and_time_for_syncing(as_member, ticket, support_l1):
    lifecycle.add_comment(ticket, by=support_l1, body="We are on it.")
    comments = as_member.get(f"{TICKETS}{ticket.pk}/events/", {"kind": "comment"}).json()["results"]
    assert [e["body"] for e in comments] == ["We are on it."]
    later = as_member.get(f"{TICKETS}{ticket.pk}/events/", {"since": "2999-01-01T00:00:00Z"}).json()["results"]
    assert later == []
    newest_first = as_member.get(f"{TICKETS}{ticket.pk}/events/", {"ordering": "-at"}).json()["results"]
    assert newest_first[0]["body"] == "We are on it."
    assert as_member.get(f"{TICKETS}{ticket.pk}/events/", {"since": "yesterday"}).status_code == 400


# --- Filing tickets ----------------------------------------------------------------------------------


def test_a_partner_files_a_ticket_and_its_clock_starts(as_member, plan, partner_member):
    response = as_member.post(TICKETS, NEW_TICKET, format="json")
    assert response.status_code == 201
    body = response.json()
    ticket = Ticket.objects.get(pk=body["id"])
    assert ticket.submitter == partner_member and ticket.plan == plan
    assert body["status"] == "received" and body["sla"]["first_response_due"] is not None
    assert TicketEvent.objects.filter(ticket=ticket, kind="received").exists()


def test_filing_after_suggestions_through_the_api_counts_as_a_deflection_miss(as_member, plan):
    response = as_member.post(TICKETS, {**NEW_TICKET, "suggested_for": "refunds fail"}, format="json")
    assert response.status_code == 201
    deflection = Deflection.objects.get()
    assert (deflection.kind, deflection.ticket_id, deflection.query) == (
        "submitted",
        response.json()["id"],
        "refunds fail",
    )


def test_a_ticket_missing_fields_is_refused_field_by_field_and_nothing_is_filed(as_member, plan):
    response = as_member.post(
        TICKETS, {**NEW_TICKET, "title": "", "severity": "P7", "steps_to_reproduce": None}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert set(fields) == {"title", "severity", "steps_to_reproduce"}
    assert fields["title"] == "This field may not be blank."
    assert response.json()["message"] == "Some fields are not valid: severity, steps_to_reproduce, title."
    assert Ticket.objects.count() == 0


def test_a_partner_without_a_support_plan_is_told_why(api_client_for, partner_member):
    response = api_client_for(partner_member).post(TICKETS, NEW_TICKET, format="json")
    assert response.status_code == 400
    assert "no support plan yet" in response.json()["message"]


def test_staff_cannot_file_tickets(as_l1, plan):
    response = as_l1.post(TICKETS, NEW_TICKET, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "This endpoint is for partner accounts."


def test_the_same_idempotency_key_and_body_give_the_same_ticket(as_member, plan):
    first = as_member.post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="sync-4711")
    again = as_member.post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="sync-4711")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Ticket.objects.count() == 1


def test_the_key_reused_for_a_different_ticket_is_refused(as_member, plan):
    as_member.post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="sync-4711")
    other = as_member.post(TICKETS, {**NEW_TICKET, "title": "Another"}, format="json", HTTP_IDEMPOTENCY_KEY="sync-4711")
    assert other.status_code == 422
    assert "used for a different request" in other.json()["message"]
    assert Ticket.objects.count() == 1


def test_keys_are_per_person_and_a_new_key_files_a_new_ticket(as_member, api_client_for, partner_admin, plan):
    as_member.post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    as_member.post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    api_client_for(partner_admin).post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert Ticket.objects.count() == 3
    assert IdempotencyKey.objects.count() == 3


def test_an_over_long_idempotency_key_is_refused(as_member, plan):
    response = as_member.post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert response.status_code == 400
    assert response.json()["fields"] == {"Idempotency-Key": "Give a key of 1 to 200 characters."}
    assert Ticket.objects.count() == 0


def test_a_failed_create_with_a_key_leaves_the_key_free(api_client_for, partner_member, partner):
    client = api_client_for(partner_member)
    refused = client.post(TICKETS, NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="k1")  # no plan yet
    assert refused.status_code == 400
    assert IdempotencyKey.objects.count() == 0


# --- Changing tickets -------------------------------------------------------------------------------


def test_a_partner_reply_resumes_a_paused_clock(as_member, ticket, support_l1):
    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    lifecycle.transition_ticket(ticket, action="wait", by=support_l1)
    response = as_member.post(f"{TICKETS}{ticket.pk}/comments/", {"body": "Here are the logs."}, format="json")
    assert response.status_code == 201
    assert response.json()["kind"] == "comment"
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"


def test_a_partner_cannot_post_an_internal_note(as_member, ticket):
    as_member.post(f"{TICKETS}{ticket.pk}/comments/", {"body": "psst", "internal": True}, format="json")
    assert TicketEvent.objects.get(ticket=ticket, body="psst").public is True


def test_an_empty_comment_is_refused(as_member, ticket):
    response = as_member.post(f"{TICKETS}{ticket.pk}/comments/", {"body": "  "}, format="json")
    assert response.status_code == 400
    assert "body" in response.json()["fields"]


def test_staff_acknowledge_and_a_partner_may_not(as_member, as_l1, ticket):
    refused = as_member.post(f"{TICKETS}{ticket.pk}/transitions/", {"action": "acknowledge"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["message"] == "Only our support staff can do this."
    done = as_l1.post(f"{TICKETS}{ticket.pk}/transitions/", {"action": "acknowledge"}, format="json")
    assert done.status_code == 200
    assert done.json()["status"] == "acknowledged"


def test_an_impossible_transition_says_why(as_member, as_l1, ticket):
    unknown = as_l1.post(f"{TICKETS}{ticket.pk}/transitions/", {"action": "explode"}, format="json")
    assert unknown.status_code == 400 and "action" in unknown.json()["fields"]
    as_l1.post(f"{TICKETS}{ticket.pk}/transitions/", {"action": "resolve"}, format="json")
    reopen = as_member.post(f"{TICKETS}{ticket.pk}/transitions/", {"action": "reopen"}, format="json")
    assert reopen.status_code == 400
    assert reopen.json()["message"] == "Say why the ticket is reopened."
    closed = as_member.post(f"{TICKETS}{ticket.pk}/transitions/", {"action": "close"}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_an_escalation_request_outside_the_plan_is_refused_with_the_reason(as_member, ticket):
    response = as_member.post(f"{TICKETS}{ticket.pk}/escalation-requests/", {"reason": "Orders failing"}, format="json")
    assert response.status_code == 400
    assert "does not include escalation requests" in response.json()["message"]


def test_attachments_are_checked_stored_and_downloaded_never_inline(as_member, ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("checkout.log", b"POST /pay 500\n", content_type="text/plain")
    response = as_member.post(f"{TICKETS}{ticket.pk}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 201
    download = as_member.get(response.json()["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="checkout.log"')
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == b"POST /pay 500\n"
    listed = as_member.get(f"{TICKETS}{ticket.pk}/attachments/").json()["results"]
    assert [a["original_name"] for a in listed] == ["checkout.log"]


def test_a_disguised_or_forbidden_file_is_refused_on_the_file_field(as_member, ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for name, content in (("invoice.pdf", b"<html><script>alert(1)</script>"), ("run.exe", b"MZ\x90\x00")):
        upload = SimpleUploadedFile(name, content)
        response = as_member.post(f"{TICKETS}{ticket.pk}/attachments/", {"file": upload}, format="multipart")
        assert response.status_code == 400
        assert name in response.json()["fields"]["file"]
    assert not ticket.attachments.exists()


def test_partners_do_not_see_files_of_internal_notes(as_member, as_l1, ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("db-dump.txt", b"internal")
    staff = as_l1.post(f"{TICKETS}{ticket.pk}/attachments/", {"file": upload, "internal": True}, format="multipart")
    assert staff.status_code == 201
    assert as_member.get(staff.json()["download_url"]).status_code == 404
    assert as_member.get(f"{TICKETS}{ticket.pk}/attachments/").json()["results"] == []


def test_an_unsupported_method_answers_405(as_member, ticket):
    response = as_member.delete(f"{TICKETS}{ticket.pk}/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v1/retier-runs/%0A%C2%95x/", "/api/v1/tickets/1.5/"])
def test_an_unknown_api_url_answers_json_404(as_member, path):
    for response in (as_member.get(path), as_member.post(path, {})):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


# --- Support plan, knowledge base ------------------------------------------------------------------


def test_a_partner_reads_its_plan_targets_and_contacts(as_member, plan):
    body = as_member.get("/api/v1/support-plan/").json()
    assert body["plan"]["name"] == "Premier"
    assert body["plan"]["always_open"] is True
    p2 = next(t for t in body["plan"]["targets"] if t["severity"] == "P2")
    assert (p2["first_response_minutes"], p2["resolution_minutes"]) == (60, 480)
    assert body["entitled_by"] == "Resale: Premier tier"
    assert body["escalation_contacts"] == []


def test_a_partner_without_a_plan_reads_none(as_member):
    assert as_member.get("/api/v1/support-plan/").json() == {
        "plan": None,
        "entitled_by": None,
        "escalation_contacts": [],
    }


def test_search_and_suggest_rank_articles_and_hide_staff_only_ones(as_member, as_l1):
    article("Checkout 500 error — common causes", summary="Why checkout fails")
    article("Refund runbook", audience="internal", body="Checkout refunds internals")
    results = as_member.get("/api/v1/kb/search/", {"q": "checkout 500"}).json()["results"]
    assert [r["article"]["title"] for r in results] == ["Checkout 500 error — common causes"]
    assert 0 < results[0]["score"] <= 1
    staff_titles = {r["article"]["title"] for r in as_l1.get("/api/v1/kb/search/", {"q": "checkout"}).json()["results"]}
    assert "Refund runbook" in staff_titles
    assert len(as_member.get("/api/v1/kb/suggest/", {"q": "checkout"}).json()["results"]) <= 3
    assert as_member.get("/api/v1/kb/articles/refund-runbook/").status_code == 404


def test_an_article_body_is_sanitised(as_member):
    article("Payment webhooks", body="Hello <script>alert(1)</script> **world**")
    body = as_member.get("/api/v1/kb/articles/payment-webhooks/").json()
    assert "<script>" not in body["body_html"] and "<strong>world</strong>" in body["body_html"]


def test_an_over_long_search_is_refused(as_member):
    response = as_member.get("/api/v1/kb/search/", {"q": "x" * 201})
    assert response.status_code == 400 and "q" in response.json()["fields"]


# --- Staff -----------------------------------------------------------------------------------------


def test_the_queue_lists_open_tickets_by_next_deadline(as_l1, ticket, partner, partner_member, support_l1):
    urgent = file_ticket(partner, partner_member, title="Down", severity="P1")
    done = file_ticket(partner, partner_member, title="Fixed", severity="P3")
    lifecycle.transition_ticket(done, action="resolve", by=support_l1)
    ids = [row["id"] for row in as_l1.get("/api/v1/queue/").json()["results"]]
    assert ids == [urgent.pk, ticket.pk]
    assert [r["id"] for r in as_l1.get("/api/v1/queue/", {"status": "resolved"}).json()["results"]] == [done.pk]


def test_partners_do_not_get_the_queue(as_member):
    response = as_member.get("/api/v1/queue/")
    assert response.status_code == 403
    assert response.json()["message"] == "Your role does not include this endpoint."


def test_on_call_now_lists_every_schedule(as_l1, support_l1):
    from support.models import OnCallLayer, OnCallMember, OnCallSchedule

    schedule = OnCallSchedule.objects.create(name="L1 desk", time_zone="UTC")
    layer = OnCallLayer.objects.create(
        schedule=schedule, name="Weekly", starts_on=datetime(2026, 1, 5, tzinfo=UTC).date(), handoff="09:00"
    )
    OnCallMember.objects.create(layer=layer, person=support_l1, position=1)
    rows = as_l1.get("/api/v1/oncall/").json()["results"]
    assert [(r["schedule"], r["primary"]) for r in rows] == [("L1 desk", support_l1.get_full_name())]
    assert rows[0]["shifts"]


def test_the_scoreboard_groups_figures_and_refuses_a_bad_month(api_client_for, program_manager, ticket):
    client = api_client_for(program_manager)
    body = client.get("/api/v1/scoreboard/", {"by": "severity"}).json()
    assert body["totals"]["tickets"] == 1
    assert [(g["key"], g["figures"]["tickets"]) for g in body["groups"]] == [("P2", 1)]
    assert {t["label"] for t in body["targets"]} >= {"Escalation rate"}
    for month in ("2026-13", "9999-12", "last month"):
        bad = client.get("/api/v1/scoreboard/", {"month": month})
        assert bad.status_code == 400 and "month" in bad.json()["fields"]
    assert client.get("/api/v1/scoreboard/", {"by": "colour"}).status_code == 400


def test_a_file_name_longer_than_the_file_system_allows_is_stored_through_the_api(
    as_member, ticket, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    name = "x" * 300 + ".log"
    upload = SimpleUploadedFile(name, b"POST /pay 500\n", content_type="text/plain")
    response = as_member.post(f"{TICKETS}{ticket.pk}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert as_member.get(response.json()["download_url"]).status_code == 200


def test_a_partner_cannot_tell_staff_ids_from_other_ids_by_the_assignee_filter(
    as_member, ticket, support_l1, support_l2, partner_admin
):
    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)  # assigns it to L1
    answers = {
        person: as_member.get(TICKETS, {"assignee": person.pk}).status_code for person in (support_l2, partner_admin)
    }
    assert set(answers.values()) == {400}  # a staff id and a partner id not on their tickets answer alike
    assert as_member.get(TICKETS, {"assignee": 999_999}).status_code == 400
    listed = as_member.get(TICKETS, {"assignee": support_l1.pk}).json()["results"]
    assert [row["id"] for row in listed] == [ticket.pk]  # the person on their own ticket can be filtered by
