"""Staff chat alerts: P1/P2 escalations and breaches posted to the rooms configured in the admin, in
the Slack shape (Mattermost, Rocket.Chat) or as a Teams Adaptive Card, once each, retried when the
room's webhook fails, at a real receiver on a local port."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse

from support.escalation import chat
from support.models import ChatAlert, ChatChannel
from support.tickets.sweep import sweep_slas
from tests.factories import file_ticket
from tests.receiver import Receiver
from tests.support.test_escalation import START
from tests.support.test_escalation import desk as desk  # the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with Receiver() as receiver:
        yield receiver


def channel(room, name="#support-urgent", **fields):
    return ChatChannel.objects.create(name=name, url=room.url(f"/{name.strip('#')}"), **fields)


def posted(room, count=1):
    """Return the JSON bodies the room received once `count` arrived."""
    return [request.json() for request in room.wait_for(lambda got: len(got) >= count)]


def sweep(moment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return sweep_slas(now=moment)


def test_a_p1_posts_the_ticket_partner_deadline_and_who_is_paged_with_a_link(
    desk,
    room,
    partner,
    partner_member,
    support_l1,
    time_machine,
    django_capture_on_commit_callbacks,
):
    channel(room)
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P1", title="Checkout down for every shop")

    sweep(START, django_capture_on_commit_callbacks)

    bodies = posted(room, 2)  # L1 takes it; the VP is informed (the P1 trigger)
    first = bodies[0]
    assert first["text"].startswith("New P1 ticket, taken up by L1 support")
    [card] = first["attachments"]
    assert card["title"] == f"#{ticket.pk} Checkout down for every shop"
    assert card["title_link"].endswith(f"/tickets/{ticket.pk}/")
    assert card["text"] == partner.name
    facts = {field["title"]: field["value"] for field in card["fields"]}
    assert facts["Paged"].startswith(support_l1.get_full_name())
    assert facts["First response due"].endswith("UTC")
    informed = bodies[1]["attachments"][0]["fields"][0]
    assert informed["title"] == "Informed"
    assert ChatAlert.objects.filter(state="sent").count() == 2


def test_p3_tickets_and_other_levels_stay_out_of_a_room_that_did_not_ask(
    desk,
    room,
    partner,
    partner_member,
    time_machine,
    django_capture_on_commit_callbacks,
):
    only_l2 = channel(room, "#l2")
    only_l2.levels.add(desk[2])
    on_call_l3 = channel(room, "#l3")
    on_call_l3.schedules.add(desk[3].schedule)
    time_machine.move_to(START, tick=False)
    file_ticket(partner, partner_member, severity="P3")
    p2 = file_ticket(partner, partner_member, severity="P2")  # first response due in 60 minutes

    sweep(START, django_capture_on_commit_callbacks)  # both taken up by L1: no room listens to L1
    assert ChatAlert.objects.count() == 0
    sweep(START + timedelta(minutes=61), django_capture_on_commit_callbacks)  # the P2 reaches L2

    escalated, breached = posted(room, 2)  # it missed its first response too, at L2 by then
    assert {request.path for request in room.received} == {"/l2"}
    assert "escalated to L2 senior support" in escalated["text"]
    assert breached["text"].startswith("P2 missed its first response deadline")
    assert sorted(ChatAlert.objects.values_list("channel__name", "ticket", "kind")) == [
        ("#l2", p2.pk, "breach"),
        ("#l2", p2.pk, "escalation"),
    ]


def test_a_breach_is_posted_once_with_the_deadline_missed(
    desk,
    room,
    partner,
    partner_member,
    time_machine,
    django_capture_on_commit_callbacks,
):
    channel(room, on_escalation=False)
    time_machine.move_to(START, tick=False)
    file_ticket(partner, partner_member, severity="P2")
    for minutes in (0, 61, 62, 63):
        sweep(START + timedelta(minutes=minutes), django_capture_on_commit_callbacks)

    [body] = posted(room)
    assert body["text"].startswith("P2 missed its first response deadline")
    facts = {field["title"]: field["value"] for field in body["attachments"][0]["fields"]}
    assert facts["Was due"] == "23 Nov 11:00 UTC"
    assert ChatAlert.objects.get().kind == "breach"


def test_teams_gets_an_adaptive_card(
    desk, room, partner, partner_member, time_machine, django_capture_on_commit_callbacks
):
    channel(room, "#teams", flavour="teams", severities=["P2"])
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    sweep(START, django_capture_on_commit_callbacks)

    [body] = posted(room)
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"].startswith("New P2 ticket")
    assert card["actions"][0]["url"].endswith(f"/tickets/{ticket.pk}/")


def test_a_failing_room_is_retried_then_given_up(desk, room, partner, partner_member, time_machine):
    channel(room)
    room.answer(500, 200)
    time_machine.move_to(START, tick=False)
    file_ticket(partner, partner_member, severity="P2")
    sweep_slas(now=START)
    assert chat.post_due(now=START) == 1
    alert = ChatAlert.objects.get()
    assert (alert.state, alert.attempts, alert.last_status) == ("pending", 1, 500)
    assert chat.post_due(now=START) == 0  # not before its retry time
    assert chat.post_due(now=START + timedelta(seconds=10)) == 1
    alert.refresh_from_db()
    assert (alert.state, alert.attempts) == ("sent", 2)

    room.answer(500)
    ChatAlert.objects.update(state="pending", attempts=0, next_attempt_at=START)
    for hours in range(chat.MAX_ATTEMPTS):
        chat.post_due(now=START + timedelta(days=hours + 1))
    alert.refresh_from_db()
    assert (alert.state, alert.attempts) == ("failed", chat.MAX_ATTEMPTS)


def test_a_rolled_back_escalation_posts_nothing_and_a_repeat_changes_nothing(
    desk,
    room,
    partner,
    partner_member,
    time_machine,
):
    channel(room)
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    with pytest.raises(RuntimeError), transaction.atomic():
        sweep_slas(now=START)
        raise RuntimeError("the worker died before committing")
    assert not ChatAlert.objects.exists()
    sweep_slas(now=START)
    assert chat.alert_escalations([(ticket.pk, 1)], now=START) == 1  # built again, written once
    assert ChatAlert.objects.count() == 1


def test_no_channel_costs_one_query(desk, partner, partner_member, django_assert_num_queries):
    ticket = file_ticket(partner, partner_member, severity="P1")
    with django_assert_num_queries(1):
        assert chat.alert_escalations([(ticket.pk, 1)], now=START) == 0
    with django_assert_num_queries(0):
        assert chat.alert_escalations([], now=START) == 0


def test_a_support_manager_adds_a_channel_in_the_admin_and_sends_a_test_message(
    client, support_manager, room, settings
):
    client.force_login(support_manager)
    add = reverse("admin:support_chatchannel_add")
    refused = client.post(add, {"name": "#p1", "flavour": "slack", "url": "http://10.0.0.7/hook", "severities": ["P1"]})
    assert refused.status_code == 200 and "internal address" in refused.content.decode()
    assert not ChatChannel.objects.exists()
    client.post(
        add,
        {"name": "#p1", "flavour": "slack", "url": room.url("/p1"), "severities": ["P1", "P2"], "on_escalation": "on",
         "on_breach": "on", "is_active": "on"},
    )  # fmt: skip
    created = ChatChannel.objects.get()
    assert created.severities == ["P1", "P2"]

    answer = client.post(
        reverse("admin:support_chatchannel_changelist"),
        {"action": "send_test_message", "_selected_action": [created.pk]},
        follow=True,
    )
    assert "the room accepted the test message (200)" in answer.content.decode()
    assert json.loads(room.received[0].body)["text"].startswith("Test message from Partner Portal")
    page = client.get(reverse("admin:support_chatchannel_change", args=[created.pk])).content.decode()
    assert "Test message from Partner Portal" in page and "(answered 200)" in page


def test_support_agents_cannot_configure_rooms(client, support_l1):
    client.force_login(support_l1)
    assert client.get(reverse("admin:support_chatchannel_add")).status_code in (302, 403)


def test_each_missed_status_update_is_its_own_alert(desk, room, partner, partner_member):
    channel(room)
    ticket = file_ticket(partner, partner_member, severity="P1")
    assert chat.alert_breaches([(ticket.pk, "update")], now=START) == 1
    assert chat.alert_breaches([(ticket.pk, "update")], now=START + timedelta(hours=1)) == 1
    chat.alert_breaches([(ticket.pk, "resolution")], now=START)
    chat.alert_breaches([(ticket.pk, "resolution")], now=START + timedelta(hours=1))  # a deadline is missed once
    assert sorted(ChatAlert.objects.values_list("key", flat=True)) == [
        f"breach:{ticket.pk}:resolution",
        f"breach:{ticket.pk}:update:20261123T100000",
        f"breach:{ticket.pk}:update:20261123T110000",
    ]


def test_a_silent_room_holds_back_its_other_alerts_until_its_retry(desk, room, partner, partner_member, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    channel(room)
    room.answer(200, delay=1.0)  # past the timeout: no answer
    for title in ("First", "Second"):
        ticket = file_ticket(partner, partner_member, severity="P1", title=title)
        chat.alert_breaches([(ticket.pk, "first_response")], now=START)
    assert chat.post_due() == 1
    first, second = ChatAlert.objects.order_by("pk")
    assert first.attempts == 1 and "No answer" in first.last_error
    assert second.attempts == 0 and second.next_attempt_at == first.next_attempt_at
