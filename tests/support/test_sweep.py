from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from support.models import Ticket, TicketEvent
from support.tickets import lifecycle
from support.tickets.sweep import sweep_slas
from tests.concurrency import at_once
from tests.factories import copy_ticket, file_ticket

pytestmark = pytest.mark.django_db


def sla_events(ticket):
    return set(ticket.events.filter(kind__in=["sla_warning", "sla_breach"]).values_list("kind", "sla_target"))


def test_it_records_a_warning_then_a_breach_exactly_once(plan, partner, partner_member, time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")  # 60 min first response, warn at 45
    time_machine.move_to(start + timedelta(minutes=46), tick=False)
    sweep_slas(now=timezone.now())
    assert sla_events(ticket) == {("sla_warning", "first_response")}
    time_machine.move_to(start + timedelta(minutes=61), tick=False)
    sweep_slas(now=timezone.now())
    sweep_slas(now=timezone.now())
    assert sla_events(ticket) == {("sla_warning", "first_response"), ("sla_breach", "first_response")}
    assert TicketEvent.objects.filter(kind="sla_breach").count() == 1
    breach = ticket.events.get(kind="sla_breach")
    assert breach.at == ticket.first_response_due and not breach.public


def test_an_answered_ticket_never_breaches_first_response(plan, partner, partner_member, support_l1, time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    time_machine.move_to(start + timedelta(minutes=120), tick=False)
    sweep_slas(now=timezone.now())
    assert sla_events(ticket) == set()


def test_a_paused_ticket_does_not_breach_resolution(plan, partner, partner_member, support_l1, time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    lifecycle.transition_ticket(ticket, action="acknowledge", by=support_l1)
    lifecycle.transition_ticket(ticket, action="wait", by=support_l1)
    time_machine.move_to(start + timedelta(hours=10), tick=False)
    sweep_slas(now=timezone.now())
    assert sla_events(ticket) == set()


def test_the_assignee_is_told_by_email(plan, partner, partner_member, support_l1, time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    ticket = file_ticket(partner, partner_member, severity="P2")
    lifecycle.assign_ticket(ticket, assignee=support_l1, by=support_l1)
    mail.outbox.clear()
    time_machine.move_to(start + timedelta(minutes=61), tick=False)
    sweep_slas(now=timezone.now())
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [support_l1.email]
    assert f"#{ticket.pk}" in mail.outbox[0].body and "SLA breached" in mail.outbox[0].body


def test_the_command_reports_what_it_did(plan, partner, partner_member, capsys):
    file_ticket(partner, partner_member, severity="P1", at=timezone.now() - timedelta(hours=5))
    call_command("check_slas")
    out = capsys.readouterr().out
    assert "Checked 1 ticket(s), recorded 4 warning(s)/breach(es), escalated 0 time(s)" in out


def test_recompute_moves_open_tickets_after_a_plan_change_and_reports_them(plan, partner, partner_member, capsys):
    ticket = file_ticket(partner, partner_member, severity="P2")
    plan.targets.filter(severity="P2").update(first_response_minutes=30)
    call_command("recompute_slas")
    out = capsys.readouterr().out
    assert f"#{ticket.pk}: first_response_due" in out and "1 of 1 open ticket(s) moved." in out
    ticket.refresh_from_db()
    assert ticket.first_response_due == ticket.received_at + timedelta(minutes=30)


def test_recompute_refuses_an_unknown_plan(plan):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No support plan is named"):
        call_command("recompute_slas", plan="Platinum")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks with SKIP LOCKED are PostgreSQL's")
def test_two_sweeps_at_once_record_every_breach_exactly_once(plan, partner, partner_member):
    past = timezone.now() - timedelta(days=2)
    copy_ticket(file_ticket(partner, partner_member, severity="P2", at=past), 499)
    _, errors = at_once([lambda: sweep_slas(batch_size=50, notify=False)] * 2)
    assert not errors
    assert TicketEvent.objects.filter(kind="sla_breach").count() == 500 * 2
    assert TicketEvent.objects.filter(kind="sla_warning").count() == 500 * 2
    assert not Ticket.objects.filter(next_sla_check_at__isnull=False).exists()
