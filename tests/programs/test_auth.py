import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, email, password):
    return client.post(reverse("login"), {"username": email, "password": password})


def test_people_sign_in_with_their_email_in_any_case(client, partner_admin):
    response = sign_in(client, partner_admin.email.upper(), PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_a_wrong_password_says_so_without_telling_which_part_was_wrong(client, partner_admin):
    response = sign_in(client, partner_admin.email, "wrong")
    assert response.status_code == 200
    assert "That email and password do not match an active account." in response.content.decode()


def test_repeated_failures_lock_the_sign_in_with_a_clear_message(client, partner_admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, partner_admin.email, "wrong")
    response = sign_in(client, partner_admin.email, PASSWORD)  # even the right password now
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-in attempts" in page
    assert "reset your password" in page


def test_password_reset_emails_a_working_link(client, partner_member):
    client.post(reverse("password_reset"), {"email": partner_member.email})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/password/reset/" in line)
    response = client.get(link.replace("http://testserver", ""), follow=True)
    assert "Choose a new password" in response.content.decode()
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "brand-new-passphrase-7", "new_password2": "brand-new-passphrase-7"}
    )
    assert response.status_code == 302
    partner_member.refresh_from_db()
    assert partner_member.check_password("brand-new-passphrase-7")


def test_password_change_rejects_a_weak_password_with_the_reason(client, partner_member):
    client.force_login(partner_member)
    response = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    partner_member.refresh_from_db()
    assert partner_member.check_password(PASSWORD)


def test_sign_out_is_a_post_and_ends_the_session(client, partner_member):
    client.force_login(partner_member)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert "You are signed out" in response.content.decode()
    assert client.get(reverse("home"))["Location"].startswith(reverse("login"))


def test_changing_the_case_of_the_email_does_not_reset_the_lockout(client, partner_admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, partner_admin.email, "wrong")
    response = sign_in(client, partner_admin.email.upper(), PASSWORD)
    assert response.status_code == 429


def test_a_visitor_on_the_public_program_page_can_sign_in_from_it(client):
    page = client.get("/program/").content.decode()
    assert 'href="/accounts/login/?next=/program/"' in page and ">Sign in</a>" in page
    assert ">Sign in</a>" not in client.get("/accounts/login/").content.decode()  # not on the sign-in page itself
