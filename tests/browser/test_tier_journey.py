from playwright.sync_api import expect

from .conftest import sign_in


def test_a_partner_sees_its_tiers_with_progress_bars_and_the_at_risk_notice(live_server, demo, page, screenshot):
    sign_in(page, live_server.url, "partner-admin@demo.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tiers").click()

    resale = page.get_by_role("region", name="Resale: Specialist")
    expect(resale).to_be_visible()
    expect(resale.get_by_text("At risk at the next re-tier")).to_be_visible()
    expect(resale.get_by_role("progressbar", name="ARR sourced: $280,000 of $1,000,000")).to_be_visible()
    expect(resale.get_by_text("New criteria from")).to_be_visible()
    services = page.get_by_role("region", name="Services: Delivering")
    expect(services.get_by_role("heading", name="Progress to Certified Practice")).to_be_visible()
    expect(services.get_by_role("progressbar")).to_have_count(2)
    screenshot(page, "partner-my-tiers")


def test_a_program_manager_runs_a_dry_run_from_the_admin_and_reads_the_what_if(live_server, demo, page, screenshot):
    sign_in(page, live_server.url, "manager@demo.test", path="/admin/login/?next=/admin/")
    page.get_by_role("link", name="Re-tier runs").first.click()
    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("Dry run (what-if)").check()
    page.get_by_role("button", name="Start").click()

    expect(page.get_by_text("Partners per tier").first).to_be_visible()
    expect(page.get_by_text("Movement: from (rows) → to (columns)").first).to_be_visible()
    expect(page.get_by_text("Would drop (grandfathered): 1")).to_be_visible()
    expect(page.get_by_text("Tier inflation: top-tier share after each re-tier").first).to_be_visible()
    expect(page.get_by_role("link", name="Summary CSV")).to_be_visible()
    screenshot(page, "admin-dry-run-report")
