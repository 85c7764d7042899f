from django.core import mail
from playwright.sync_api import expect

from programs.demo import DEMO_PASSWORD
from programs.models import Invitation


def test_a_partner_admin_signs_in_invites_a_colleague_and_signs_out(live_server, demo, page, screenshot):
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill("partner-admin@demo.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Northwind Resellers")).to_be_visible()
    members = page.get_by_role("region", name="Members")
    expect(members.get_by_text("partner-user@demo.test")).to_be_visible()
    expect(members.get_by_text("Partner member").first).to_be_visible()

    invite = page.get_by_role("region", name="Invite a colleague")
    invite.get_by_label("Work email").fill("new.colleague@northwind.example")
    invite.get_by_label("Full name").fill("New Colleague")
    invite.get_by_label("Role").select_option("member")
    invite.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_role("status")).to_contain_text("Invitation sent to new.colleague@northwind.example")
    expect(page.get_by_role("region", name="Pending invitations")).to_contain_text("new.colleague@northwind.example")
    screenshot(page, "partner-home-after-invite")
    assert Invitation.objects.filter(email="new.colleague@northwind.example").exists()
    assert mail.outbox[-1].to == ["new.colleague@northwind.example"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_bad_invitation_shows_the_field_error_in_the_page(live_server, demo, page):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("partner-admin@demo.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    invite = page.get_by_role("region", name="Invite a colleague")
    invite.get_by_label("Work email").fill("not an email")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    assert not Invitation.objects.exists()


def test_removing_a_member_asks_first_and_cancelling_keeps_them(live_server, demo, page):
    from programs.models import Membership
    from tests.browser.conftest import sign_in

    sign_in(page, live_server.url, "partner-admin@demo.test")
    members = page.get_by_role("region", name="Members")
    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    members.get_by_role("button", name="Remove partner-user@demo.test").click()
    assert asked and asked[0].startswith("Remove Peter User from Northwind Resellers?")
    assert Membership.objects.filter(user__email="partner-user@demo.test").exists()

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    members.get_by_role("button", name="Remove partner-user@demo.test").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert not Membership.objects.filter(user__email="partner-user@demo.test").exists()
