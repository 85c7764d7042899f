from playwright.sync_api import expect

from .conftest import file_ticket_in_page, sign_in


def test_a_partner_files_a_ticket_l1_acknowledges_it_from_the_queue_and_the_partner_sees_it(
    live_server, demo, browser, screenshot
):
    partner = browser.new_context().new_page()
    sign_in(partner, live_server.url, "partner-admin@demo.test")
    partner.get_by_role("navigation", name="Main").get_by_role("link", name="Tickets").click()
    partner.get_by_role("link", name="File a ticket").click()
    file_ticket_in_page(
        partner,
        title="Payment page times out for Acme",
        severity="P2 – High",
        steps="Open checkout, pay by card, wait 30 s: timeout.",
        impact="No card payments for this customer.",
    )
    expect(partner.get_by_role("heading", name="Payment page times out for Acme")).to_be_visible()
    timeline = partner.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Received")
    expect(timeline).not_to_contain_text("Acknowledged")
    ticket_url = partner.url

    agent = browser.new_context().new_page()
    sign_in(agent, live_server.url, "l1@demo.test")
    agent.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    row = agent.get_by_role("row").filter(has_text="Payment page times out for Acme")
    row.get_by_role("button", name="Acknowledge").click()
    expect(agent.get_by_role("status")).to_contain_text("acknowledged")
    screenshot(agent, "queue-after-acknowledge")

    partner.goto(ticket_url)
    expect(partner.get_by_role("region", name="Timeline")).to_contain_text("Acknowledged")
    expect(partner.get_by_role("region", name="Timeline")).to_contain_text("Lena Lindqvist")
    screenshot(partner, "ticket-timeline-partner")
