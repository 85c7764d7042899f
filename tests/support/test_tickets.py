from datetime import timedelta
from pathlib import PurePath

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from support.models import Ticket, TicketAttachment, TicketEvent
from tests.factories import TICKET_INTAKE, file_ticket

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def new_ticket_data(**overrides):
    return {"title": "Checkout returning 500", "severity": "P1", **TICKET_INTAKE, **overrides}


def test_a_partner_files_a_ticket_and_gets_an_automatic_acknowledgement(
    client, plan, partner, partner_member, django_capture_on_commit_callbacks
):
    client.force_login(partner_member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ticket_new"), new_ticket_data())
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == ticket.get_absolute_url()
    assert ticket.partner == partner and ticket.plan == plan and ticket.status == "received"
    assert ticket.first_response_due == ticket.received_at + timedelta(minutes=15)
    assert mail.outbox[0].to == [partner_member.email]
    assert f"#{ticket.pk}" in mail.outbox[0].subject
    assert list(ticket.events.values_list("kind", flat=True)) == ["received", "auto_ack"]
    ticket.refresh_from_db()
    assert ticket.first_response_at is None  # the automatic email is not a response


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"severity": "P9"}, "severity", "Select a valid choice."),
        ({"steps_to_reproduce": ""}, "steps_to_reproduce", "This field is required."),
        ({"business_impact": "   "}, "business_impact", "This field is required."),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
        ({"environment": "moon"}, "environment", "Select a valid choice."),
    ],
)
def test_a_bad_ticket_shows_the_field_error_and_saves_nothing(client, plan, partner_member, overrides, field, message):
    client.force_login(partner_member)
    response = client.post(reverse("ticket_new"), new_ticket_data(**overrides))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("payload.exe", b"MZ\x90\x00", "this kind of file is not accepted"),
        ("page.html", b"<script>alert(1)</script>", "this kind of file is not accepted"),
        ("fake.png", b"<script>alert(1)</script>", "is not really a .png file"),
        ("binary.log", b"\x00\x01\x02", "is not a text file"),
    ],
)
def test_an_unsafe_attachment_is_refused_and_nothing_is_saved(client, plan, partner_member, name, content, message):
    client.force_login(partner_member)
    upload = SimpleUploadedFile(name, content)
    response = client.post(reverse("ticket_new"), {**new_ticket_data(), "attachments": [upload]})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Ticket.objects.exists() and not TicketAttachment.objects.exists()


def test_an_oversized_attachment_is_refused(client, plan, partner_member, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    client.force_login(partner_member)
    upload = SimpleUploadedFile("server.log", b"a" * 1001)
    response = client.post(reverse("ticket_new"), {**new_ticket_data(), "attachments": [upload]})
    assert response.status_code == 400
    assert "files can be at most" in response.content.decode()


def test_attachments_are_stored_and_served_only_as_downloads_to_people_who_may_see_the_ticket(
    client, plan, partner_member, partner_admin, other_partner, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(partner_member)
    files = [SimpleUploadedFile("screen.png", PNG), SimpleUploadedFile("server.log", b"ERROR 500 at /checkout\n")]
    client.post(reverse("ticket_new"), {**new_ticket_data(), "attachments": files})
    ticket = Ticket.objects.get()
    png = ticket.attachments.get(original_name="screen.png")
    assert png.content_type == "image/png" and png.size == len(PNG)
    url = reverse("attachment_download", args=[ticket.pk, png.pk])
    client.force_login(partner_admin)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG
    client.force_login(other_partner)
    assert client.get(url).status_code == 404


def test_without_a_support_plan_filing_is_refused_with_the_reason(client, partner_member):
    client.force_login(partner_member)
    page = client.get(reverse("ticket_new")).content.decode()
    assert "no support plan yet" in page
    response = client.post(reverse("ticket_new"), new_ticket_data())
    assert response.status_code == 400
    assert "no support plan yet" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_ticket_list_shows_only_the_partners_own_tickets_with_status_and_sla(
    client, plan, partner, partner_member, other_partner, other_partner_org
):
    mine = file_ticket(partner, partner_member, title="Our checkout is down")
    file_ticket(other_partner_org, other_partner, title="Their SSO is broken")
    client.force_login(partner_member)
    page = client.get(reverse("ticket_list")).content.decode()
    assert "Our checkout is down" in page and "Their SSO is broken" not in page
    assert "Received" in page and "On track" in page
    assert f'href="{mine.get_absolute_url()}"' in page


def test_the_detail_page_shows_the_timeline_and_due_times_in_the_partners_zone(
    client, ticket, partner_member, support_l1
):
    from support.tickets import lifecycle

    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    client.force_login(partner_member)
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert "Timeline" in page and "Acknowledged" in page and support_l1.full_name in page
    assert "Times in Europe/London" in page
    assert 'class="countdown"' in page


def test_partners_never_see_internal_notes_or_internal_files(client, ticket, partner_member, support_l2):
    from support.tickets import lifecycle

    lifecycle.add_comment(ticket, by=support_l2, body="Customer's DB is on an old version", public=False)
    lifecycle.add_comment(ticket, by=support_l2, body="We are looking into it.")
    client.force_login(partner_member)
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert "We are looking into it." in page
    assert "old version" not in page
    client.force_login(support_l2)
    assert "old version" in client.get(ticket.get_absolute_url()).content.decode()


def test_support_acknowledges_starts_waits_and_resolves_in_one_click_each(client, ticket, support_l1):
    client.force_login(support_l1)
    for action, status in [
        ("acknowledge", "acknowledged"),
        ("start", "in_progress"),
        ("wait", "waiting_on_partner"),
        ("resolve", "resolved"),
    ]:
        response = client.post(reverse("ticket_action", args=[ticket.pk, action]))
        assert response.status_code == 302
        ticket.refresh_from_db()
        assert ticket.status == status
    assert ticket.assignee == support_l1
    assert ticket.first_response_at is not None
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds[-4:] == ["acknowledged", "started", "waiting", "resolved"]


def test_an_impossible_step_is_refused_with_a_message_and_changes_nothing(client, ticket, support_l1):
    client.force_login(support_l1)
    response = client.post(reverse("ticket_action", args=[ticket.pk, "close"]), follow=True)
    assert "cannot be closed now" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "received"


def test_partners_cannot_run_staff_steps(client, ticket, partner_member):
    client.force_login(partner_member)
    assert client.post(reverse("ticket_action", args=[ticket.pk, "resolve"])).status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == "received"


def test_a_partner_reply_while_we_wait_resumes_the_clock(client, ticket, partner_member, support_l1):
    from support.tickets import lifecycle

    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    lifecycle.transition_ticket(ticket, action="wait", by=support_l1, message="Send logs please")
    ticket.refresh_from_db()
    assert ticket.resolution_due is None
    client.force_login(partner_member)
    client.post(reverse("ticket_comment", args=[ticket.pk]), {"body": "Logs attached."})
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    assert ticket.resolution_due is not None
    assert list(ticket.events.values_list("kind", flat=True))[-2:] == ["comment", "resumed"]


def test_an_empty_reply_is_refused(client, ticket, partner_member):
    client.force_login(partner_member)
    response = client.post(reverse("ticket_comment", args=[ticket.pk]), {"body": "  "})
    assert response.status_code == 400
    assert "Write a message or attach a file." in response.content.decode()
    assert not ticket.events.filter(kind="comment").exists()


def test_a_severity_change_retargets_from_reception_and_is_on_the_timeline(client, ticket, support_l2):
    client.force_login(support_l2)
    client.post(reverse("ticket_severity", args=[ticket.pk]), {"severity": "P1", "reason": "All orders fail"})
    ticket.refresh_from_db()
    assert ticket.severity == "P1"
    assert ticket.first_response_due == ticket.received_at + timedelta(minutes=15)
    event = ticket.events.get(kind="severity")
    assert (event.from_value, event.to_value, event.actor) == ("P2", "P1", support_l2)


def test_a_partner_reopens_a_resolved_ticket_with_a_reason(client, ticket, partner_member, support_l1):
    from support.tickets import lifecycle

    lifecycle.transition_ticket(ticket, action="resolve", by=support_l1)
    client.force_login(partner_member)
    response = client.post(reverse("ticket_action", args=[ticket.pk, "reopen"]), {"message": ""}, follow=True)
    assert "Say why the ticket is reopened." in response.content.decode()
    client.post(reverse("ticket_action", args=[ticket.pk, "reopen"]), {"message": "Still failing"})
    ticket.refresh_from_db()
    assert ticket.status == "in_progress" and ticket.resolved_at is None


def test_assign_to_me(client, ticket, support_l2):
    client.force_login(support_l2)
    client.post(reverse("ticket_assign_to_me", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert ticket.assignee == support_l2
    assert TicketEvent.objects.filter(ticket=ticket, kind="assigned", public=False).exists()


def test_the_partner_sees_the_sla_state_change_to_breached(client, plan, partner, partner_member, time_machine):
    ticket = file_ticket(partner, partner_member, at=timezone.now() - timedelta(minutes=90))
    client.force_login(partner_member)
    assert "Breached" in client.get(ticket.get_absolute_url()).content.decode()


def test_a_first_response_stays_one_when_the_agent_later_changes_role(ticket, partner_member, support_l1):
    from support.tickets import lifecycle

    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    support_l1.groups.clear()
    lifecycle.add_comment(ticket, by=partner_member, body="Thanks")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_a_superuser_acknowledging_is_a_first_response(ticket, superuser):
    from support.tickets import lifecycle

    lifecycle.transition_ticket(ticket, action="acknowledge", by=superuser)
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_a_plan_missing_a_severity_target_refuses_that_severity_in_words(client, plan, partner_member):
    plan.targets.filter(severity="P1").delete()
    client.force_login(partner_member)
    response = client.post(reverse("ticket_new"), new_ticket_data(severity="P1"))
    assert response.status_code == 400
    assert "has no P1 target" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_new_ticket_page_title_is_plain_text(client_for, partner_member, plan):
    page = client_for(partner_member).get("/tickets/new/").content.decode()
    assert "<title>File a ticket · Partner Portal</title>" in page
    assert page.count("js/kb-suggest.js") == 1


@pytest.mark.parametrize("stem", ["a" * 250, "é" * 130, "报告" * 60, "..", " spaced name "])
def test_a_long_or_odd_file_name_is_stored_and_downloaded_under_its_own_name(
    client, plan, partner_member, settings, tmp_path, stem
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(partner_member)
    name = f"{stem}.log"
    response = client.post(
        reverse("ticket_new"), {**new_ticket_data(), "attachments": [SimpleUploadedFile(name, b"ERROR 500\n")]}
    )
    assert response.status_code == 302
    attachment = Ticket.objects.get().attachments.get()
    assert attachment.original_name == name[:200]
    assert len(PurePath(attachment.file.name).name.encode()) <= 120  # what the file system keeps is short
    download = client.get(reverse("attachment_download", args=[attachment.ticket_id, attachment.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"ERROR 500\n"


def test_agents_see_the_partners_tiers_plan_and_other_open_tickets_beside_a_ticket(
    client, plan, partner, partner_member, support_l1
):
    from tests.factories import file_ticket

    ticket = file_ticket(partner, partner_member, title="The one we look at")
    file_ticket(partner, partner_member, title="Another open one")
    client.force_login(support_l1)
    page = client.get(ticket.get_absolute_url()).content.decode()
    panel = page[page.index('id="partner-heading"') :]
    assert plan.name in panel and "Another open one" in panel and "The one we look at" not in panel
    client.force_login(partner_member)
    assert "Other open tickets" not in client.get(ticket.get_absolute_url()).content.decode()
