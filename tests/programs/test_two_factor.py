"""Two-factor sign-in: required of every staff account, optional for partners, with recovery codes.

These tests sign in through the real pages (not force_login, which conftest makes fully verified).
"""

from binascii import unhexlify

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from programs import services
from tests.factories import PASSWORD


def sign_in(person) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": person.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def code_of(device, *, later=0) -> str:
    return f"{totp(unhexlify(device.key), t0=device.t0 - later * device.step):06d}"


def confirmed_app(person):
    device = services.start_totp_setup(person)
    services.confirm_totp(device, code=code_of(device))
    device.refresh_from_db()
    device.last_t = -1  # the code used to confirm may be used once more in these tests
    device.save()
    return device


def test_staff_without_an_app_are_sent_to_set_one_up_before_anything_else(support_l1):
    client = sign_in(support_l1)
    for path in ("/", "/queue/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/two-factor/setup/?next=")


def test_setting_up_the_app_shows_the_qr_code_then_ten_recovery_codes_once(support_l1):
    client = sign_in(support_l1)
    page = client.get("/accounts/two-factor/setup/?next=/queue/")
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=support_l1, confirmed=False)
    assert page.context["secret"] in device.config_url

    wrong = client.post("/accounts/two-factor/setup/", {"code": "000000", "next": "/queue/"})
    assert wrong.status_code == 400
    assert "does not match" in wrong.context["form"].errors["code"][0]

    done = client.post("/accounts/two-factor/setup/", {"code": code_of(device), "next": "/queue/"})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/queue/").status_code == 200  # this session passed the second factor
    assert StaticToken.objects.filter(device__user=support_l1).count() == 10


def test_staff_with_an_app_enter_its_code_after_the_password(support_l1, time_machine):
    time_machine.move_to("2026-11-30 10:00:05Z", tick=False)
    device = confirmed_app(support_l1)
    client = sign_in(support_l1)
    assert client.get("/queue/")["Location"] == "/accounts/two-factor/verify/?next=%2Fqueue%2F"
    wrong = client.post("/accounts/two-factor/verify/?next=/queue/", {"code": "123456"})
    assert wrong.status_code == 400
    time_machine.shift(2)  # past the wait a failed code imposes
    right = client.post("/accounts/two-factor/verify/", {"code": code_of(device), "next": "/queue/"})
    assert right["Location"] == "/queue/"
    assert client.get("/queue/").status_code == 200


def test_a_code_cannot_be_used_twice(support_l1):
    device = confirmed_app(support_l1)
    code = code_of(device)
    first = sign_in(support_l1)
    assert first.post("/accounts/two-factor/verify/", {"code": code})["Location"] == "/"
    second = sign_in(support_l1)
    assert second.post("/accounts/two-factor/verify/", {"code": code}).status_code == 400


def test_a_recovery_code_signs_in_once(support_l1):
    device = services.start_totp_setup(support_l1)
    codes = services.confirm_totp(device, code=code_of(device))
    client = sign_in(support_l1)
    assert client.post("/accounts/two-factor/verify/", {"code": codes[0].upper()}).status_code == 302
    again = sign_in(support_l1)
    assert again.post("/accounts/two-factor/verify/", {"code": codes[0]}).status_code == 400
    assert StaticToken.objects.filter(device__user=support_l1).count() == 9


def test_wrong_codes_slow_down_further_tries(support_l1):
    device = confirmed_app(support_l1)
    client = sign_in(support_l1)
    for _ in range(3):
        client.post("/accounts/two-factor/verify/", {"code": "000000"})
    # Even the right code is refused while the wait after a failure runs.
    assert client.post("/accounts/two-factor/verify/", {"code": code_of(device)}).status_code == 400
    device.refresh_from_db()
    allowed, _ = device.verify_is_allowed()
    assert not allowed and device.throttling_failure_count >= 1


def test_an_unverified_staff_session_gets_403_from_the_api(support_l1):
    confirmed_app(support_l1)
    response = sign_in(support_l1).get("/api/v1/queue/")
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_required"


def test_api_tokens_are_their_own_credential(api_client_for, support_l1):
    confirmed_app(support_l1)
    assert api_client_for(support_l1).get("/api/v1/queue/").status_code == 200


def test_partners_are_not_asked_until_they_turn_it_on_and_may_turn_it_off(partner_member):
    client = sign_in(partner_member)
    assert client.get("/tickets/").status_code == 200
    device = services.start_totp_setup(partner_member)
    done = client.post("/accounts/two-factor/setup/", {"code": code_of(device)})
    assert done.status_code == 200 and len(done.context["codes"]) == 10

    later = sign_in(partner_member)
    assert later.get("/tickets/")["Location"].startswith("/accounts/two-factor/verify/")
    later.post("/accounts/two-factor/verify/", {"code": code_of(device, later=1)})
    assert later.post("/accounts/two-factor/disable/")["Location"] == "/accounts/two-factor/"
    assert not TOTPDevice.objects.filter(user=partner_member).exists()
    assert sign_in(partner_member).get("/tickets/").status_code == 200


def test_staff_cannot_turn_it_off(client_for, support_l1):
    client = client_for(support_l1)
    response = client.post("/accounts/two-factor/disable/", follow=True)
    assert "required for staff accounts" in response.content.decode()
    assert TOTPDevice.objects.filter(user=support_l1, confirmed=True).exists()


def test_new_recovery_codes_replace_the_old_ones(client_for, support_l1):
    device = services.start_totp_setup(support_l1)
    old = services.confirm_totp(device, code=code_of(device))
    new = client_for(support_l1).post("/accounts/two-factor/recovery-codes/").context["codes"]
    assert not set(old) & set(new)
    assert set(StaticToken.objects.filter(device__user=support_l1).values_list("token", flat=True)) == set(new)


def test_the_next_address_never_leaves_the_portal(support_l1):
    device = confirmed_app(support_l1)
    client = sign_in(support_l1)
    response = client.post("/accounts/two-factor/verify/", {"code": code_of(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.postgres
def test_turning_it_on_is_audited_without_the_secret(support_l1, db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("trigger-based audit runs on PostgreSQL")
    from django.apps import apps

    confirmed_app(support_l1)
    events = apps.get_model("programs", "AuthenticatorAppEvent").objects.filter(user=support_l1)
    assert list(events.order_by("pgh_id").values_list("pgh_label", "confirmed")) == [
        ("insert", False),
        ("update", True),
    ]
    assert "key" not in {field.name for field in events.model._meta.get_fields()}


def test_the_admin_never_shows_a_persons_authenticator_secret(client_for, superuser, support_l1):
    confirmed_app(support_l1)
    client = client_for(superuser)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    device = TOTPDevice.objects.get(user=support_l1)
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/").status_code == 404


def test_a_program_manager_resets_a_lost_second_factor_and_it_is_set_up_again(client_for, program_manager, support_l1):
    confirmed_app(support_l1)
    response = client_for(program_manager).post(
        "/admin/programs/user/", {"action": "reset_two_factor", "_selected_action": [support_l1.pk]}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=support_l1).exists()
    assert sign_in(support_l1).get("/queue/")["Location"].startswith("/accounts/two-factor/setup/")


def test_a_password_alone_cannot_replace_the_app_get_codes_or_turn_it_off(support_l1, partner_member):
    device = confirmed_app(support_l1)
    client = sign_in(support_l1)
    for method, path in (
        ("get", "/accounts/two-factor/setup/"),
        ("post", "/accounts/two-factor/recovery-codes/"),
        ("get", "/accounts/two-factor/"),
    ):
        response = getattr(client, method)(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/verify/"), path
    assert TOTPDevice.objects.get(user=support_l1) == device
    assert not TOTPDevice.objects.filter(user=support_l1, confirmed=False).exists()

    partner_app = confirmed_app(partner_member)
    partner = sign_in(partner_member)
    assert partner.post("/accounts/two-factor/disable/")["Location"].startswith("/accounts/two-factor/verify/")
    assert TOTPDevice.objects.filter(pk=partner_app.pk).exists()


def test_turning_it_on_asks_for_the_code_in_sessions_already_open(partner_member):
    earlier = sign_in(partner_member)
    assert earlier.get("/tickets/").status_code == 200
    confirmed_app(partner_member)  # turned on from another device
    assert earlier.get("/tickets/")["Location"].startswith("/accounts/two-factor/verify/")


def test_the_pages_that_show_secrets_are_never_cached(client_for, partner_member):
    client = client_for(partner_member)
    for path in ("/accounts/two-factor/setup/", "/account/api-tokens/"):
        assert "no-store" in client.get(path)["Cache-Control"], path


def test_before_the_second_factor_the_page_offers_no_menu_only_sign_out(support_l1):
    confirmed_app(support_l1)
    client = sign_in(support_l1)
    page = client.get("/accounts/two-factor/verify/?next=/queue/").content.decode()
    assert 'aria-label="Main"' not in page and 'href="/queue/"' not in page
    assert ">Sign out</button>" in page
