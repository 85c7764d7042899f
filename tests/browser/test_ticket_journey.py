from playwright.sync_api import expect

from .conftest import sign_in


def test_a_partner_files_a_ticket_l1_acknowledges_it_from_the_queue_and_the_partner_sees_it(
    live_server, demo, browser, screenshot
):
    partner = browser.new_context().new_page()
    sign_in(partner, live_server.url, "partner-admin@demo.test")
    partner.get_by_role("navigation", name="Main").get_by_role("link", name="Tickets").click()
    partner.get_by_role("link", name="File a ticket").click()
    partner.get_by_label("Title").fill("Payment page times out for Acme")
    partner.get_by_label("P2 – High", exact=False).check()
    partner.get_by_label("Category").select_option("defect")
    partner.get_by_label("End customer").fill("Acme Retail GmbH")
    partner.locator("#id_environment").select_option("production")
    partner.get_by_label("Steps to reproduce").fill("Open checkout, pay by card, wait 30 s: timeout.")
    partner.get_by_label("Business impact").fill("No card payments for this customer.")
    partner.get_by_role("button", name="Submit ticket").click()
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
