import datetime as dt

import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from support.models import Ticket
from support.tickets.sweep import sweep_slas

from .conftest import sign_in


def test_an_unacknowledged_p1_escalates_to_l2_and_the_partner_sees_it_on_the_timeline(
    live_server, demo, page, screenshot
):
    ticket = Ticket.objects.get(title__startswith="Checkout returning 500")  # Contoso's P1, Premier plan
    sign_in(page, live_server.url, "other-partner@demo.test")
    page.goto(f"{live_server.url}{ticket.get_absolute_url()}")
    timeline = page.get_by_role("region", name="Timeline")
    expect(
        timeline.get_by_text("by L1 support")
    ).to_be_visible()  # "Taken up by L1 support": a new ticket's first level
    expect(timeline.get_by_text("to L2 senior support")).to_have_count(0)

    # Nobody answers: 20 minutes later (the P1 first-response target is 15) the sweep runs.
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=20), tick=True):
        sweep_slas(now=timezone.now())  # the database clock does not travel
        page.reload()
        expect(timeline.get_by_text("to L2 senior support")).to_be_visible()
        expect(timeline.get_by_text("No first response within 15 min of support time.")).to_be_visible()
        expect(page.get_by_role("region", name="Escalation").get_by_text("L2 senior support")).to_be_visible()
        screenshot(page, "partner-ticket-escalated-to-l2")
