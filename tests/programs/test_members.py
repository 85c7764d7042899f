from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from programs import services
from programs.models import Invitation, Membership, User
from tests.factories import PASSWORD, InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_partner_home_shows_the_organisation_its_members_and_their_roles(client, partner_admin, partner_member):
    client.force_login(partner_member)
    page = client.get(reverse("home")).content.decode()
    assert "Northwind Resellers" in page
    assert "Europe/London" in page
    assert partner_admin.email in page and "Partner admin" in page
    assert partner_member.email in page and "Partner member" in page


def test_partner_home_never_lists_people_of_another_partner(client, partner_admin, other_partner):
    client.force_login(partner_admin)
    page = client.get(reverse("home")).content.decode()
    assert other_partner.email not in page
    assert "Contoso" not in page


def test_a_partner_member_sees_no_invite_form_and_no_remove_buttons(client, partner_admin, partner_member):
    client.force_login(partner_member)
    page = client.get(reverse("home")).content.decode()
    assert "Invite a colleague" not in page
    assert "Remove" not in page


def test_an_account_without_a_partner_gets_a_clear_403(client, partner_admin, partner_member):
    services.remove_member(partner_member.membership, by=partner_admin)
    partner_member.is_active = True  # even if someone reactivated the account by hand
    partner_member.save()
    client.force_login(User.objects.get(pk=partner_member.pk))
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "not linked to a partner" in response.content.decode()


def test_inviting_a_colleague_emails_a_link_and_lists_the_invitation(
    client, partner_admin, django_capture_on_commit_callbacks
):
    client.force_login(partner_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("invite_member"),
            {"email": "New.Person@Northwind.test", "full_name": "New Person", "role": "member"},
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new.person@northwind.test"
    assert invitation.invited_by == partner_admin
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@northwind.test"]
    assert "/invitations/accept/" in mail.outbox[0].body
    page = client.get(reverse("home")).content.decode()
    assert "new.person@northwind.test" in page and "Pending invitations" in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email", "role": "member"}, "email", "Enter a valid email address."),
        ({"email": "", "role": "member"}, "email", "This field is required."),
        ({"email": "a@example.test", "role": "owner"}, "role", "Select a valid choice."),
        ({"email": "x" * 250 + "@example.test", "role": "member"}, "email", "at most 254 characters"),
    ],
)
def test_a_bad_invitation_shows_field_errors_and_saves_nothing(client, partner_admin, data, field, message):
    client.force_login(partner_admin)
    response = client.post(reverse("invite_member"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_inviting_someone_who_already_has_an_account_is_refused(client, partner_admin, other_partner):
    client.force_login(partner_admin)
    response = client.post(reverse("invite_member"), {"email": other_partner.email.upper(), "role": "member"})
    assert response.status_code == 400
    assert "already has a Partner Portal account" in response.content.decode()
    assert not Invitation.objects.exists()


def test_a_second_pending_invitation_to_the_same_address_is_refused(client, partner_admin, pending_invitation):
    client.force_login(partner_admin)
    response = client.post(reverse("invite_member"), {"email": pending_invitation.email, "role": "admin"})
    assert response.status_code == 400
    assert "already pending" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_an_expired_invitation_makes_room_for_a_new_one(partner_admin, partner):
    old = InvitationFactory(partner=partner, email="late@northwind.test", expires_at=timezone.now() - timedelta(days=1))
    invitation, _ = services.invite_member(
        partner, email="late@northwind.test", role="member", by=partner_admin, base_url="http://testserver"
    )
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert invitation.is_usable(timezone.now())


def test_accepting_an_invitation_creates_the_account_and_signs_in(client, pending_invitation, partner):
    url = reverse("accept_invitation", args=[pending_invitation.token])
    assert "Join Northwind Resellers" in client.get(url).content.decode()
    response = client.post(
        url, {"full_name": "New Colleague", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.colleague@northwind.test")
    assert user.check_password("a-long-passphrase-42")
    assert user.membership.partner == partner and user.membership.role == Membership.Role.MEMBER
    assert "New Colleague" in client.get(reverse("home")).content.decode()
    client.logout()
    assert client.get(url).status_code == 404  # used once, never again


def test_a_signed_in_person_is_told_to_sign_out_before_accepting(client, pending_invitation, partner_member):
    client.force_login(partner_member)
    page = client.get(reverse("accept_invitation", args=[pending_invitation.token])).content.decode()
    assert "sign out first" in page


@pytest.mark.parametrize(
    ("password1", "password2", "message"),
    [
        ("a-long-passphrase-42", "different-passphrase-42", "The two passwords do not match."),
        ("12345678", "12345678", "This password is too common."),
        ("short", "short", "This password is too short."),
    ],
)
def test_accepting_with_a_bad_password_shows_the_reason_and_creates_nothing(
    client, pending_invitation, password1, password2, message
):
    url = reverse("accept_invitation", args=[pending_invitation.token])
    response = client.post(url, {"full_name": "New Colleague", "password1": password1, "password2": password2})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(email=pending_invitation.email).exists()


def test_an_expired_or_unknown_invitation_link_says_it_is_not_valid(client, partner):
    expired = InvitationFactory(partner=partner, expires_at=timezone.now() - timedelta(minutes=1))
    for token in (expired.token, "no-such-token"):
        response = client.get(reverse("accept_invitation", args=[token]))
        assert response.status_code == 404
        assert "This invitation is not valid" in response.content.decode()


def test_a_revoked_invitation_link_stops_working(client, partner_admin, pending_invitation):
    client.force_login(partner_admin)
    client.post(reverse("revoke_invitation", args=[pending_invitation.pk]))
    client.logout()
    assert client.get(reverse("accept_invitation", args=[pending_invitation.token])).status_code == 404


def test_removing_a_member_closes_their_access(client, partner_admin, partner_member):
    client.force_login(partner_admin)
    response = client.post(reverse("remove_member", args=[partner_member.membership.pk]), follow=True)
    assert "can no longer sign in" in response.content.decode()
    partner_member.refresh_from_db()
    assert not partner_member.is_active
    assert not Membership.objects.filter(user=partner_member).exists()
    client.logout()
    response = client.post(reverse("login"), {"username": partner_member.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "do not match an active account" in response.content.decode()


def test_a_partner_admin_cannot_remove_themselves(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post(reverse("remove_member", args=[partner_admin.membership.pk]), follow=True)
    assert "You cannot remove yourself" in response.content.decode()
    assert Membership.objects.filter(user=partner_admin).exists()


def test_another_partners_admin_cannot_remove_or_revoke_and_nothing_changes(
    client, other_partner, partner_member, pending_invitation
):
    client.force_login(other_partner)
    assert client.post(reverse("remove_member", args=[partner_member.membership.pk])).status_code == 404
    assert client.post(reverse("revoke_invitation", args=[pending_invitation.pk])).status_code == 404
    assert Membership.objects.filter(user=partner_member).exists()
    pending_invitation.refresh_from_db()
    assert pending_invitation.revoked_at is None


def test_a_partner_member_cannot_remove_a_colleague(client, partner_member, partner):
    colleague = MembershipFactory(partner=partner)
    client.force_login(partner_member)
    assert client.post(reverse("remove_member", args=[colleague.pk])).status_code == 403
    assert Membership.objects.filter(pk=colleague.pk).exists()


def test_the_services_refuse_an_actor_who_is_not_an_admin_of_that_partner(partner_member, other_partner, partner):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.invite_member(partner, email="x@example.test", role="member", by=partner_member, base_url="http://t")
    with pytest.raises(PermissionDenied):
        services.remove_member(partner_member.membership, by=other_partner)


def test_partner_home_shows_the_support_plan_and_its_targets(client, plan, partner_member):
    client.force_login(partner_member)
    page = client.get(reverse("home")).content.decode()
    assert "Support plan: Premier" in page
    assert "24/7" in page
    assert "15 min" in page and "4 h" in page  # P1 targets
