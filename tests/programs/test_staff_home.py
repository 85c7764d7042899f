import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_staff_home_names_the_roles_and_what_each_may_reach(client, support_l1, program_manager):
    client.force_login(support_l1)
    page = client.get(reverse("home")).content.decode()
    assert "Support L1" in page
    assert "Back office" not in page  # L1 works in the portal, not the admin

    client.force_login(program_manager)
    page = client.get(reverse("home")).content.decode()
    assert "Program manager" in page
    assert reverse("admin:programs_partner_changelist") in page
    assert "you can edit them" in page


def test_navigation_offers_the_admin_only_to_people_with_admin_access(client, support_l1, support_manager):
    client.force_login(support_l1)
    assert reverse("admin:index") not in client.get(reverse("home")).content.decode()
    client.force_login(support_manager)
    assert reverse("admin:index") in client.get(reverse("home")).content.decode()
