"""Personal API tokens: created and revoked on a page, stored hashed, used as `Authorization: Bearer`."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from programs.models import ApiToken
from programs.services import create_api_token

ME = "/api/v1/me/"


def bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_the_page_shows_a_new_token_once_and_keeps_only_its_hash(client_for, partner_member):
    client = client_for(partner_member)
    response = client.post(reverse("api_tokens"), {"name": "ServiceNow sync"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("pp_") and secret in response.content.decode()
    token = ApiToken.objects.get(user=partner_member)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.digest, token.prefix, token.name}
    listing = client.get(reverse("api_tokens")).content.decode()
    assert "ServiceNow sync" in listing and token.prefix in listing and secret not in listing


def test_a_token_acts_as_its_person_and_records_its_last_use(partner_member):
    token, secret = create_api_token(partner_member, name="Sync")
    assert token.last_used_at is None
    response = bearer(secret).get(ME)
    assert response.status_code == 200
    assert response.json()["email"] == partner_member.email
    assert response.json()["partner"]["slug"] == "northwind"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(partner_member):
    token, secret = create_api_token(partner_member, name="Sync")
    client = bearer(secret)
    client.get(ME)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    client.get(ME)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        client.get(ME)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_a_revoked_token_gets_401_in_the_error_shape(client_for, partner_member):
    token, secret = create_api_token(partner_member, name="Old")
    response = client_for(partner_member).post(reverse("revoke_api_token", args=[token.pk]))
    assert response.status_code == 302
    answer = bearer(secret).get(ME)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Bearer"
    assert answer.json() == {
        "message": "The token is not valid, or was revoked.",
        "code": "authentication_failed",
        "fields": {},
    }


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer pp_not-a-real-token", "Bearer a b", "Token nonsense", "Bearer " + "x" * 500],
)
def test_bad_credentials_get_401_and_no_one_is_signed_in(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] in ("authentication_failed", "not_authenticated")


def test_no_credentials_get_401(db):
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication credentials were not provided."


def test_a_removed_persons_token_stops_working(partner_admin, partner_member):
    from programs.services import remove_member

    _, secret = create_api_token(partner_member, name="Sync")
    remove_member(partner_member.membership, by=partner_admin)
    assert bearer(secret).get(ME).status_code == 401


def test_nobody_revokes_someone_elses_token(client_for, partner_admin, partner_member):
    token, secret = create_api_token(partner_member, name="Sync")
    response = client_for(partner_admin).post(reverse("revoke_api_token", args=[token.pk]))
    assert response.status_code == 404
    assert bearer(secret).get(ME).status_code == 200


def test_a_second_active_token_with_the_same_name_is_refused_on_the_name_field(client_for, partner_member):
    create_api_token(partner_member, name="Sync")
    response = client_for(partner_member).post(reverse("api_tokens"), {"name": "Sync"})
    assert response.status_code == 400
    assert "already have a token named" in response.context["form"].errors["name"][0]
    assert ApiToken.objects.filter(user=partner_member).count() == 1


def test_a_blank_name_is_refused(client_for, partner_member):
    response = client_for(partner_member).post(reverse("api_tokens"), {"name": "   "})
    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


def test_the_throttle_answers_429_per_token_with_retry_after(settings, partner_member):
    settings.API_THROTTLE_RATE = "3/minute"
    _, first = create_api_token(partner_member, name="First")
    _, second = create_api_token(partner_member, name="Second")
    client = bearer(first)
    assert [client.get(ME).status_code for _ in range(3)] == [200, 200, 200]
    throttled = client.get(ME)
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["code"] == "throttled"
    assert "the limit is 3/minute per token" in throttled.json()["message"]
    assert bearer(second).get(ME).status_code == 200  # another token has its own count


def test_the_command_prints_a_working_token(partner_member, capsys):
    call_command("create_api_token", partner_member.email, "--name", "CI")
    secret = capsys.readouterr().out.strip()
    assert bearer(secret).get(ME).status_code == 200


def test_the_command_refuses_an_unknown_person_in_one_line(db):
    with pytest.raises(CommandError, match=r"No active person signs in as 'ghost@example\.test'"):
        call_command("create_api_token", "ghost@example.test")
