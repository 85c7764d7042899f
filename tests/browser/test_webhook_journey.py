"""A partner admin connects their system: adds an endpoint, copies the secret, sends a test event,
sees it in the log, and a ticket filed in the portal arrives signed at the receiver."""

from playwright.sync_api import expect
from standardwebhooks import Webhook

from tests.receiver import Receiver

from .conftest import file_ticket_in_page, sign_in


def test_a_partner_admin_adds_an_endpoint_tests_it_and_receives_a_signed_ticket_event(
    live_server, demo, page, settings, screenshot
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with Receiver() as receiver:
        sign_in(page, live_server.url, "partner-admin@demo.test")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()

        page.get_by_label("Endpoint URL").fill(receiver.url("/portal-events"))
        page.get_by_label("Description").fill("Our ServiceNow")
        page.get_by_label("Ticket created").check()
        page.get_by_label("Public reply added").check()
        page.get_by_role("button", name="Add endpoint").click()

        expect(page.get_by_role("status")).to_contain_text("Copy it now")
        secret = page.get_by_test_id("webhook-secret").inner_text()
        assert secret.startswith("whsec_")
        screenshot(page, "webhooks-endpoint-added")
        page.get_by_role("link", name="Open the endpoint").click()

        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_role("status")).to_contain_text("Test event delivered: your endpoint answered 200")
        [test_event] = receiver.received
        assert Webhook(secret).verify(test_event.body, test_event.headers)["type"] == "webhook.test"
        log = page.get_by_test_id("delivery-log")
        expect(log).to_contain_text("webhook.test")
        expect(log).to_contain_text(test_event.webhook_id)

        page.goto(f"{live_server.url}/tickets/new/")
        file_ticket_in_page(
            page,
            title="Order sync stopped overnight",
            severity="P3",
            steps="Look at the order feed after 02:00.",
            impact="Orders are keyed in by hand.",
        )
        expect(page.get_by_role("heading", name="Order sync stopped overnight")).to_be_visible()

        got = receiver.wait_for(lambda received: len(received) == 2)[-1]
        event = Webhook(secret).verify(got.body, got.headers)
        assert event["type"] == "ticket.created"
        assert event["data"]["ticket"]["title"] == "Order sync stopped overnight"
        assert got.path == "/portal-events"

        page.goto(f"{live_server.url}/webhooks/")
        page.get_by_role("link", name=receiver.url("/portal-events")).click()
        expect(page.get_by_test_id("delivery-log")).to_contain_text("ticket.created")
        page.get_by_role("link", name="ticket.created").click()
        expect(page.get_by_role("main")).to_contain_text(got.webhook_id)
        screenshot(page, "webhook-delivery")
