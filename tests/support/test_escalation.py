"""Escalation: levels reached by themselves, once each, routed to who is on call, with partners' requests
allowed only where their plan includes them."""

import datetime as dt
from datetime import time, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from support.escalation import services as escalations
from support.escalation import terms
from support.models import (
    EscalationLevel,
    EscalationPolicy,
    EscalationTrigger,
    Notification,
    OnCallLayer,
    OnCallMember,
    OnCallOverride,
    OnCallSchedule,
    SeverityTarget,
    TicketEvent,
)
from support.tickets import lifecycle
from support.tickets.sweep import sweep_slas
from tests.factories import entitle, file_ticket, support_plan

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # a Monday


def schedule(name, *primary, secondary=()):
    """An on-call schedule (UTC) with a weekly primary rotation of `primary` and a secondary one."""
    found = OnCallSchedule.objects.create(name=name, time_zone="UTC")
    for role, people in (("primary", primary), ("secondary", secondary)):
        if people:
            layer = OnCallLayer.objects.create(
                schedule=found, role=role, name=role, starts_on=dt.date(2026, 1, 5), handoff=time(9)
            )
            for turn, person in enumerate(people, 1):
                OnCallMember.objects.create(layer=layer, person=person, position=turn)
    return found


@pytest.fixture
def desk(plan, support_l1, support_l2, engineer, support_manager):
    """The plan's policy: L1 takes new tickets, L2 after the first-response target, L3 when unresolved for
    two hours, the VP informed on P1 or on executive request; security goes to L3, two reopenings to L2."""
    policy = EscalationPolicy.objects.create(plan=plan)
    l1 = schedule("L1", support_l1, secondary=[support_l2])
    l2 = schedule("L2", support_l2)
    l3 = schedule("L3", engineer)
    levels = {
        1: EscalationLevel.objects.create(policy=policy, rank=1, name="L1 support", rule="entry", schedule=l1),
        2: EscalationLevel.objects.create(
            policy=policy, rank=2, name="L2 senior support", rule="no_response", after_factor=1, schedule=l2,
            contact_role="Tier 2 Lead", response_minutes=240,
        ),
        3: EscalationLevel.objects.create(
            policy=policy, rank=3, name="L3 engineering", rule="no_resolution", after_minutes=120, schedule=l3,
            contact_role="Engineering On-Call",
        ),
        4: EscalationLevel.objects.create(
            policy=policy, rank=4, name="VP Support", rule="on_request", person=support_manager, assigns=False,
            executive=True, contact_role="VP Support", contact_email="vp@provider.test",
        ),
    }  # fmt: skip
    for condition, rank in (("p1", 4), ("security", 3), ("reopened_twice", 2)):
        EscalationTrigger.objects.create(policy=policy, condition=condition, level=levels[rank])
    return levels


def sweep_at(moment):
    return sweep_slas(now=moment)


def levels_of(ticket):
    return list(ticket.escalations.order_by("level").values_list("level", "cause", "assignee__email", "informed_only"))


def test_a_new_p2_ticket_goes_to_the_l1_on_call_at_once(
    client, desk, partner, partner_member, support_l1, time_machine
):
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    sweep_at(START)
    ticket.refresh_from_db()
    assert levels_of(ticket) == [(1, "entry", support_l1.email, False)]
    assert ticket.assignee == support_l1 and ticket.escalation_level == 1
    event = ticket.events.get(kind="escalated")
    assert event.public and event.to_value == "L1 support"
    assert (
        event.body
        == f"New P2 ticket: urgent, so taken up at once, at any hour. L1 support now with {support_l1.get_full_name()}."
    )
    client.force_login(partner_member)  # the partner reads that L1 took it up, not that it was escalated
    page = " ".join(client.get(ticket.get_absolute_url()).content.decode().split())
    assert "<strong>Taken up</strong> by L1 support" in page and "<strong>Escalated</strong>" not in page


def test_an_unanswered_ticket_goes_to_l2_after_the_response_target_exactly_once(
    desk, partner, partner_member, support_l2, time_machine
):
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")  # first response target 60 min
    sweep_at(START)
    mail.outbox.clear()
    sweep_at(START + timedelta(minutes=59))
    assert ticket.escalations.count() == 1
    sweep_at(START + timedelta(minutes=61))
    sweep_at(START + timedelta(minutes=62))
    ticket.refresh_from_db()
    assert [level for level, *_ in levels_of(ticket)] == [1, 2]
    assert ticket.assignee == support_l2 and ticket.escalation_level == 2
    l2 = ticket.escalations.get(level=2)
    assert l2.reason == "No first response within 1 h of support time." and l2.cause == "timeout"
    assert [m.to for m in mail.outbox if "escalated to L2" in m.subject] == [[support_l2.email]]


def test_an_answer_in_time_stops_the_no_response_escalation(desk, partner, partner_member, support_l1, time_machine):
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    sweep_at(START + timedelta(minutes=90))
    assert [level for level, *_ in levels_of(ticket)] == [1]


def test_p1_informs_management_at_once_without_taking_the_ticket_from_support(
    desk, partner, partner_member, support_l1, support_manager, time_machine
):
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P1")
    sweep_at(START)
    ticket.refresh_from_db()
    assert levels_of(ticket) == [(1, "entry", support_l1.email, False), (4, "trigger", support_manager.email, True)]
    assert ticket.assignee == support_l1 and ticket.escalation_level == 1


def test_a_security_event_goes_straight_to_engineering_and_never_back_down(
    desk, partner, partner_member, engineer, time_machine
):
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P3", category="security")
    sweep_at(START + timedelta(hours=8))
    ticket.refresh_from_db()
    assert [(level, cause) for level, cause, *_ in levels_of(ticket)] == [(1, "entry"), (3, "trigger")]
    assert ticket.assignee == engineer and ticket.escalation_level == 3  # the L2 timeout is moot


def test_a_ticket_reopened_twice_goes_to_l2(desk, partner, partner_member, support_l1, time_machine):
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P4")
    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    for _ in range(2):
        lifecycle.transition_ticket(ticket, action="resolve", by=support_l1)
        lifecycle.transition_ticket(ticket, action="reopen", by=partner_member, message="Still broken.")
    sweep_at(timezone.now())
    assert ticket.escalations.get(level=2).reason == "Reopened twice."


def test_nobody_on_call_falls_to_the_secondary_then_the_next_level_and_says_so(
    desk, partner, partner_member, support_l1, support_l2, time_machine
):
    time_machine.move_to(START, tick=False)
    support_l1.is_active = False
    support_l1.save()
    first = file_ticket(partner, partner_member, severity="P2", title="First")
    sweep_at(START)
    assert first.escalations.get().routed_via == "L1 support: secondary on call (L1)"
    OnCallLayer.objects.filter(schedule__name="L1").delete()
    second = file_ticket(partner, partner_member, severity="P2", title="Second")
    sweep_at(START)
    routed = second.escalations.get()
    assert routed.assignee == support_l2
    assert routed.routed_via == "L2 senior support: primary on call (L2) (nobody on call for L1 support)"


def test_an_override_takes_the_page(desk, partner, partner_member, support_l2, time_machine):
    time_machine.move_to(START, tick=False)
    OnCallOverride.objects.create(
        schedule=OnCallSchedule.objects.get(name="L1"),
        person=support_l2,
        starts_at=START - timedelta(hours=1),
        ends_at=START + timedelta(hours=1),
        reason="Lena at the dentist",
    )
    ticket = file_ticket(partner, partner_member, severity="P2")
    sweep_at(START)
    assert ticket.escalations.get().assignee == support_l2


def test_a_ticket_keeps_the_policy_it_was_opened_under(desk, partner, partner_member, time_machine):
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    EscalationLevel.objects.filter(rank=2).update(after_factor=None, after_minutes=5)
    sweep_at(START + timedelta(minutes=10))
    assert not ticket.escalations.filter(level=2).exists()
    later = file_ticket(partner, partner_member, severity="P2", title="Opened after the change")
    sweep_at(START + timedelta(minutes=10))
    assert later.escalations.filter(level=2).exists()


def test_staff_escalate_by_hand_with_a_reason(client, desk, ticket, support_l2, engineer):
    client.force_login(support_l2)
    url = reverse("ticket_escalate", args=[ticket.pk])
    response = client.post(url, {"rank": 3, "reason": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert not ticket.escalations.exists()
    response = client.post(url, {"rank": 3, "reason": "Database deadlock: needs engineering"})
    assert response.status_code == 302
    escalation = ticket.escalations.get()
    assert (escalation.level, escalation.cause, escalation.by, escalation.assignee) == (
        3,
        "manual",
        support_l2,
        engineer,
    )
    ticket.refresh_from_db()
    assert ticket.escalation_level == 3
    response = client.post(url, {"rank": 2, "reason": "back down?"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_a_partner_asks_for_escalation_only_where_its_plan_includes_it(
    client, desk, plan, ticket, partner_member, support_l2
):
    client.force_login(partner_member)
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert "does not include escalation requests" in page
    url = reverse("ticket_request_escalation", args=[ticket.pk])
    response = client.post(url, {"reason": "All checkouts fail"})
    assert response.status_code == 400 and "does not include escalation requests" in response.content.decode()
    assert not ticket.escalations.exists()

    plan.includes_escalation_requests = True
    plan.save()
    response = client.post(url, {"reason": "All checkouts fail", "executive": "on"})
    assert response.status_code == 400 and "Executive escalation is not part of your" in response.content.decode()
    response = client.post(url, {"reason": "All checkouts fail"})
    assert response.status_code == 302
    escalation = ticket.escalations.get()
    assert (escalation.level, escalation.cause, escalation.assignee) == (2, "partner", support_l2)
    assert escalation.reason.endswith(": All checkouts fail")
    assert "Executive escalation is not part of your" in client.get(ticket.get_absolute_url()).content.decode()


def test_executive_escalation_on_request_where_the_plan_includes_it(
    client, desk, plan, ticket, partner_member, support_manager
):
    plan.includes_escalation_requests = plan.includes_executive_escalation = True
    plan.save()
    client.force_login(partner_member)
    client.post(
        reverse("ticket_request_escalation", args=[ticket.pk]), {"reason": "Customer at risk", "executive": "on"}
    )
    escalation = ticket.escalations.get()
    assert (escalation.level, escalation.assignee, escalation.informed_only) == (4, support_manager, True)


SATURDAY_NIGHT = dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC)


def _office_hours_desk(partner, person, time_machine):
    """Entitle `partner` to a weekday 09–17 UTC plan whose L1 takes new tickets (`person` on call); return its policy.

    The clock stops on Saturday night, outside the plan's hours."""
    weekdays = [(day, time(9), time(17)) for day in range(5)]
    office = support_plan("Office hours", always_open=False, zone="UTC", windows=weekdays, rank=1)
    entitle(partner, office)
    policy = EscalationPolicy.objects.create(plan=office)
    EscalationLevel.objects.create(policy=policy, rank=1, name="L1", rule="entry", schedule=schedule("Desk", person))
    time_machine.move_to(SATURDAY_NIGHT, tick=False)
    return policy


def test_after_hours_p3_waits_for_the_opening_while_p1_pages_at_once(
    partner, partner_member, support_l1, support_l2, time_machine
):
    policy = _office_hours_desk(partner, support_l1, time_machine)
    office, saturday = policy.plan, SATURDAY_NIGHT
    low = file_ticket(partner, partner_member, severity="P3", title="Low")
    high = file_ticket(partner, partner_member, severity="P1", title="High")
    sweep_at(saturday)
    assert high.escalations.count() == 1 and low.escalations.count() == 0
    monday = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    sweep_at(monday)
    assert (
        low.escalations.get().reason == "New P3 ticket (received outside support hours: taken up when support opens)."
    )

    # Mail about a P3 escalated by hand at night waits for the opening; a P1's goes at once.
    time_machine.move_to(saturday, tick=False)
    Notification.objects.all().delete()
    EscalationLevel.objects.create(
        policy=policy, rank=2, name="L2", rule="on_request", schedule=schedule("L2 desk", support_l2)
    )
    for ticket in (low, high):
        ticket.refresh_from_db()
        ticket.escalation_terms = terms.escalation_snapshot(office)
        ticket.save(update_fields=["escalation_terms"])
        escalations.escalate_by_hand(ticket, rank=2, reason="Night shift call", by=support_l1)
    sends = dict(Notification.objects.values_list("ticket__title", "send_after"))
    assert sends == {"High": saturday, "Low": monday}


def test_a_missed_status_update_is_a_warning_recorded_once_per_interval_and_escalates(
    desk, plan, partner, partner_member, support_l1, support_l2, time_machine
):
    SeverityTarget.objects.filter(plan=plan, severity="P1").update(update_minutes=30)
    EscalationLevel.objects.filter(rank=2).update(rule="no_update", after_factor=None)
    time_machine.move_to(START, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P1")
    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    ticket.refresh_from_db()
    assert ticket.update_due == START + timedelta(minutes=30)
    sweep_at(START + timedelta(minutes=31))
    ticket.refresh_from_db()
    assert ticket.sla_state(START + timedelta(minutes=31)) == "warning"
    missed = ticket.events.filter(kind="sla_breach", sla_target="update")
    assert missed.count() == 1
    assert ticket.escalations.filter(level=2, cause="timeout").exists() and ticket.assignee == support_l2

    time_machine.move_to(START + timedelta(minutes=40), tick=False)
    lifecycle.add_comment(ticket, by=support_l2, body="We found the cause; fix in progress.")
    ticket.refresh_from_db()
    assert ticket.update_due == START + timedelta(minutes=70)
    sweep_at(START + timedelta(minutes=71))
    sweep_at(START + timedelta(minutes=72))
    assert missed.count() == 2 and TicketEvent.objects.filter(kind="sla_warning", sla_target="update").count() == 2


def test_the_on_call_page_shows_who_is_on_call_now_and_the_week(client, desk, support_l1, time_machine):
    time_machine.move_to(START, tick=False)
    client.force_login(support_l1)
    page = client.get(reverse("oncall")).content.decode()
    assert "Primary now" in page and support_l1.get_full_name() in page
    assert "Primary, next 7 days" in page and "Test plan" not in page


def test_partners_see_the_contacts_their_plan_includes_with_the_engineer_on_call_now(
    client, desk, plan, partner_admin, engineer, time_machine
):
    time_machine.move_to(START, tick=False)
    client.force_login(partner_admin)
    page = client.get(reverse("home")).content.decode()
    assert "Escalation contacts" in page and "Engineering On-Call" in page
    assert engineer.get_full_name() in page and "(on call now)" in page
    assert "VP Support" not in page  # executive escalation is not in this plan
    plan.includes_executive_escalation = True
    plan.save()
    assert "vp@provider.test" in client.get(reverse("home")).content.decode()


def test_the_partner_home_looks_up_the_support_plan_once_for_its_two_cards(client, desk, plan, partner_admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(partner_admin)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("home")).content.decode()
    assert plan.name in page and "Escalation contacts" in page  # both cards show it
    lookups = [q["sql"] for q in queries.captured_queries if "support_tiersupportplan" in q["sql"]]
    assert len(lookups) == 1, lookups


def test_a_ticket_reopened_before_its_first_level_took_it_is_called_reopened(
    partner, partner_member, support_l1, time_machine
):
    from support.tickets import lifecycle

    _office_hours_desk(partner, support_l1, time_machine)
    ticket = file_ticket(partner, partner_member, severity="P3", title="Solved itself, then back")
    lifecycle.transition_ticket(ticket, action="resolve", by=support_l1)
    lifecycle.transition_ticket(ticket, action="reopen", by=partner_member, message="It is back")
    monday = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    sweep_at(monday)
    assert ticket.escalations.get().reason.startswith("Reopened P3 ticket")
