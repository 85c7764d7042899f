import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from support.insight import action_items, csat
from support.models import ActionItem, CsatResponse, Notification
from support.tickets import lifecycle
from support.tickets.sweep import send_due_notifications

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(ticket, support_l1):
    return lifecycle.transition_ticket(ticket, action="resolve", by=support_l1, message="Fixed in 4.2.1.")


def rating_link(ticket) -> str:
    send_due_notifications()
    invitation = next(m for m in mail.outbox if "how did we do" in m.subject.lower())
    assert invitation.to == [ticket.submitter.email]
    return re.search(r"https?://\S+/csat/\S+/", invitation.body).group(0)


def test_resolving_a_ticket_mails_the_submitter_a_one_time_rating_link(client, resolved):
    link = rating_link(resolved)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.get(f"/{path}")
    assert response.status_code == 200 and "How did we do?" in response.content.decode()
    response = client.post(f"/{path}", {"score": "5", "comment": "Quick and clear."})
    assert response.status_code == 302
    rating = CsatResponse.objects.get()
    assert (rating.ticket, rating.score, rating.comment, rating.by) == (
        resolved,
        5,
        "Quick and clear.",
        resolved.submitter,
    )
    again = client.post(f"/{path}", {"score": "1"})
    assert "was rated" in again.content.decode() and CsatResponse.objects.count() == 1


def test_a_rated_ticket_reopened_and_resolved_again_is_not_invited_again(resolved, partner_member, support_l1):
    csat.rate_ticket(resolved, score=4, by=partner_member)  # rated from the page before the mail went out
    lifecycle.transition_ticket(resolved, action="reopen", by=partner_member, message="Back")
    lifecycle.transition_ticket(resolved, action="resolve", by=support_l1)
    assert not Notification.objects.filter(ticket=resolved, subject__icontains="how did we do").exists()


def test_a_broken_or_expired_link_is_refused_with_a_reason(client, resolved):
    response = client.get(reverse("csat_link", args=["not-a-token"]))
    assert response.status_code == 400 and "not valid" in response.content.decode()
    token = csat.csat_token(resolved)
    with time_machine.travel(timezone.now() + timedelta(days=csat.CSAT_LINK_DAYS + 1)):
        response = client.get(reverse("csat_link", args=[token]))
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not CsatResponse.objects.exists()


def test_an_open_ticket_cannot_be_rated(ticket, partner_member):
    with pytest.raises(Exception, match="once it is resolved"):
        csat.rate_ticket(ticket, score=5, by=partner_member)


def test_a_score_outside_1_to_5_is_refused_and_nothing_is_saved(client, resolved):
    response = client.post(reverse("csat_link", args=[csat.csat_token(resolved)]), {"score": "9"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not CsatResponse.objects.exists()


def test_a_low_score_opens_a_review_item_for_the_support_manager(resolved, partner_member, support_manager):
    csat.rate_ticket(resolved, score=2, comment="Took three days", by=partner_member)
    item = ActionItem.objects.get()
    assert (item.source, item.partner, item.ticket, item.owner) == (
        "low_csat",
        resolved.partner,
        resolved,
        support_manager,
    )
    assert "2/5" in item.description and "Took three days" in item.description and item.is_open
    assert Notification.objects.filter(recipient=support_manager, subject__icontains="Low CSAT").exists()


def test_a_fair_score_opens_no_review(resolved, partner_member, support_manager):
    csat.rate_ticket(resolved, score=3, by=partner_member)
    assert not ActionItem.objects.exists()


def test_the_partner_rates_from_the_ticket_page_and_staff_see_the_rating(client, resolved, partner_admin, support_l1):
    client.force_login(partner_admin)
    page = client.get(resolved.get_absolute_url()).content.decode()
    assert "Send rating" in page
    response = client.post(reverse("ticket_rate", args=[resolved.pk]), {"score": "4", "comment": "Good"})
    assert response.status_code == 302
    client.force_login(support_l1)
    page = client.get(resolved.get_absolute_url()).content.decode()
    assert "4 / 5" in page and "Send rating" not in page


def test_another_partner_cannot_rate_the_ticket(client, resolved, other_partner):
    client.force_login(other_partner)
    assert client.post(reverse("ticket_rate", args=[resolved.pk]), {"score": "1"}).status_code == 404
    assert not CsatResponse.objects.exists()


def test_closing_a_review_item_needs_what_was_done(resolved, partner_member, support_manager):
    csat.rate_ticket(resolved, score=1, by=partner_member)
    item = ActionItem.objects.get()
    with pytest.raises(Exception, match="Say what was done"):
        action_items.close_action_item(item, outcome="  ", by=support_manager)
    action_items.close_action_item(item, outcome="Called the partner; root cause fixed.", by=support_manager)
    item.refresh_from_db()
    assert not item.is_open and item.closed_by == support_manager
    with pytest.raises(Exception, match="already closed"):
        action_items.close_action_item(item, outcome="again", by=support_manager)


def _invitations(ticket):
    return Notification.objects.filter(ticket=ticket, kind=Notification.Kind.CSAT_INVITATION)


def test_a_ticket_reopened_before_its_invitation_went_out_gets_none_until_resolved_again(
    resolved, partner_member, support_l1
):
    lifecycle.transition_ticket(resolved, action="reopen", by=partner_member, message="Still broken")
    mail.outbox.clear()
    send_due_notifications()
    assert not [m for m in mail.outbox if "how did we do" in m.subject.lower()]  # nothing for an open ticket
    lifecycle.transition_ticket(resolved, action="resolve", by=support_l1)
    assert _invitations(resolved).count() == 1
    send_due_notifications()
    assert len([m for m in mail.outbox if "how did we do" in m.subject.lower()]) == 1


def test_resolving_a_second_time_sends_no_second_invitation(resolved, partner_member, support_l1):
    send_due_notifications()  # the first invitation goes out
    lifecycle.transition_ticket(resolved, action="reopen", by=partner_member, message="Back")
    lifecycle.transition_ticket(resolved, action="resolve", by=support_l1)
    assert _invitations(resolved).count() == 1
    mail.outbox.clear()
    send_due_notifications()
    assert not [m for m in mail.outbox if "how did we do" in m.subject.lower()]
