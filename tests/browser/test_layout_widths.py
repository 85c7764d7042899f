"""Every page a partner and an agent open first fits a laptop (1366 px) and a phone (390 px) without
scrolling sideways, with radio buttons and checkboxes beside their labels; a screenshot of each page
at each width is saved under test-artifacts/."""

import pytest

from tests.browser.conftest import sign_in

WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}
OVERFLOW = "document.scrollingElement.scrollWidth > window.innerWidth"
# A radio button or checkbox stretched across the form pushes its label onto a line of its own.
STRETCHED_CHOICES = """() => [...document.querySelectorAll('input[type=radio], input[type=checkbox]')]
  .filter(el => el.getBoundingClientRect().width > 40).map(el => el.name)"""
WIDEST = """() => {
  const width = window.innerWidth;
  return [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > width + 1)
    .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                           + ' ' + Math.round(el.getBoundingClientRect().right) + 'px');
}"""


def _pages(email):
    from support.models import Ticket

    if email.startswith("partner"):
        ticket = Ticket.objects.filter(partner__memberships__user__email=email).order_by("pk").first()
        return ["/", "/tickets/", f"/tickets/{ticket.pk}/", "/tickets/new/", "/tiers/", "/kb/"]
    ticket = Ticket.objects.order_by("pk").first()
    return ["/", "/queue/", f"/tickets/{ticket.pk}/", "/oncall/", "/scoreboard/", "/scoreboard/tiers/"]


@pytest.mark.parametrize("email", ["partner-admin@demo.test", "l2@demo.test"])
def test_the_first_pages_fit_a_laptop_and_a_phone(live_server, demo, browser, screenshot, email):
    paths = _pages(email)
    wide = []
    for name, (width, height) in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, live_server.url, email)
        for path in paths:
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
            screenshot(page, f"width-{email.split('@')[0]}-{name}-{path.strip('/').replace('/', '-') or 'home'}")
            if page.evaluate(OVERFLOW):
                wide.append(f"{path} at {width} px: {page.evaluate(WIDEST)}")
            if stretched := page.evaluate(STRETCHED_CHOICES):
                wide.append(f"{path} at {width} px: choices on a line of their own: {stretched}")
        context.close()
    assert not wide, "pages that scroll sideways:\n" + "\n".join(wide)


def test_a_countdown_keeps_the_due_time_beside_it(live_server, demo, page):
    from support.models import Ticket

    ticket = Ticket.objects.filter(partner__memberships__user__email="partner-admin@demo.test").order_by("pk").first()
    sign_in(page, live_server.url, "partner-admin@demo.test")
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    first = page.locator("time.countdown").first
    text = first.inner_text()
    assert "(in " in text or "(overdue by " in text, text
    assert any(
        month in text for month in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )


def test_the_admin_pages_program_managers_edit_most_fit_a_laptop(live_server, demo, browser, screenshot):
    from support.models import OnCallSchedule
    from tiering.models import Ladder

    paths = [
        f"/admin/tiering/ladder/{Ladder.objects.order_by('pk').first().pk}/change/",
        f"/admin/support/oncallschedule/{OnCallSchedule.objects.order_by('pk').first().pk}/change/",
        "/admin/programs/partner/",
    ]
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, "admin@demo.test", path="/admin/login/")
    wide = []
    for path in paths:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        screenshot(page, "width-admin-" + path.strip("/").replace("/", "-"))
        if page.evaluate(OVERFLOW):
            wide.append(f"{path}: {page.evaluate(WIDEST)}")
    context.close()
    assert not wide, "admin pages that scroll sideways:\n" + "\n".join(wide)


def test_the_queue_shows_its_times_in_the_readers_own_zone(live_server, demo, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    sign_in(page, live_server.url, "l2@demo.test")
    page.goto(f"{live_server.url}/queue/")
    assert "Times in Asia/Tokyo" in page.get_by_role("main").inner_text()
    received = page.locator("table.queue tbody tr td:nth-child(11) time").first
    at = received.get_attribute("datetime")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tokyo = datetime.fromisoformat(at).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo:%H:%M}" in received.inner_text()
    context.close()
