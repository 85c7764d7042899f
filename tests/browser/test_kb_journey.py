import re

from playwright.sync_api import expect

from .conftest import sign_in


def test_typing_checkout_500_in_a_new_ticket_title_suggests_the_article_which_solves_it(
    live_server, demo, page, screenshot
):
    sign_in(page, live_server.url, "partner-user@demo.test")
    page.goto(f"{live_server.url}/tickets/new/")
    page.get_by_label("Title").press_sequentially("checkout 500", delay=40)
    suggestions = page.locator("#kb-suggestions")
    expect(suggestions).to_contain_text("Checkout 500 error — common causes")
    # A 0–1 score (PostgreSQL ranks with ts_rank, SQLite shows the word coverage: values differ).
    expect(suggestions.locator(".badge").first).to_have_text(re.compile(r"^(0\.\d\d|1\.00)$"))
    screenshot(page, "kb-suggest-new-ticket")

    link = suggestions.get_by_role("link", name="Checkout 500 error — common causes")
    page.goto(live_server.url + link.get_attribute("href"))
    expect(page.get_by_role("heading", name="Checkout 500 error — common causes")).to_be_visible()
    page.get_by_role("button", name="Yes, this solved it").click()
    expect(page.get_by_role("status")).to_contain_text("No ticket was filed")


def test_the_support_manager_reads_the_scoreboard_with_its_12_week_chart(live_server, demo, page, screenshot):
    sign_in(page, live_server.url, "support-manager@demo.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scoreboard").click()
    expect(page.get_by_role("heading", name="Against our targets")).to_be_visible()
    expect(page.locator("svg.chart rect.bar")).to_have_count(12)
    expect(page.get_by_role("region", name="Open review items")).to_contain_text("Low CSAT score")
    screenshot(page, "scoreboard")
