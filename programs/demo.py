"""Demo data for the embedded default: partners across motions and one login per role.

Every function here is idempotent: it finds records by their natural keys and brings them to the
state described, so running it twice leaves the same data.
"""

from django.contrib.auth.models import Group
from django.db import transaction

from .models import Membership, Motion, Partner, PartnerMotion, StaffRole, User

DEMO_PASSWORD = "demo12345"  # noqa: S105 (documented demo logins)
# Every demo staff account's authenticator app shares this documented key (base32
# DEMO_TOTP_SECRET below); `python manage.py demo_code` prints its current code. Demo only.
DEMO_TOTP_KEY = "3132333435363738393031323334353637383930"  # the RFC 6238 test key "12345678901234567890"
DEMO_TOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # noqa: S105 (documented demo key)

MOTIONS = [
    ("resale", "Resale", "Partners who resell our subscriptions and own the customer relationship."),
    ("services", "Services", "Partners who implement, integrate and run our product for customers."),
    ("technology", "Technology", "Partners whose products integrate with ours and go to market with us."),
]

# (email, full name, staff role or None, admin access, superuser)
STAFF = [
    ("l1@demo.test", "Lena Lindqvist", StaffRole.SUPPORT_L1, False, False),
    ("l2@demo.test", "Omar Haddad", StaffRole.SUPPORT_L2, False, False),
    ("engineer@demo.test", "Priya Raman", StaffRole.ENGINEERING, False, False),
    ("support-manager@demo.test", "Mehmet Yilmaz", StaffRole.SUPPORT_MANAGER, True, False),
    ("manager@demo.test", "Grace Okafor", StaffRole.PROGRAM_MANAGER, True, False),
    ("admin@demo.test", "Ada Admin", None, True, True),
    # The rest of the follow-the-sun support desk (on-call rotations of support/demo/setup.py).
    ("asia-l1@demo.test", "Kenji Sato", StaffRole.SUPPORT_L1, False, False),
    ("berlin-l1@demo.test", "Jonas Weber", StaffRole.SUPPORT_L1, False, False),
    ("sofia-l2@demo.test", "Sofia Rossi", StaffRole.SUPPORT_L2, False, False),
    ("daniel-eng@demo.test", "Daniel Kim", StaffRole.ENGINEERING, False, False),
]

# (name, slug, country, time zone, motions, [(email, full name, role, support contact)])
PARTNERS = [
    (
        "Northwind Resellers",
        "northwind",
        "GB",
        "Europe/London",
        ["resale", "services"],
        [
            ("partner-admin@demo.test", "Paula Admin", Membership.Role.ADMIN, True),
            ("partner-user@demo.test", "Peter User", Membership.Role.MEMBER, True),
        ],
    ),
    (
        "Contoso Integration Services",
        "contoso",
        "DE",
        "Europe/Berlin",
        ["services"],
        [("other-partner@demo.test", "Olga Other", Membership.Role.ADMIN, True)],
    ),
    ("Globex Technologies", "globex", "US", "America/New_York", ["technology"], []),
    ("Anatolia Cloud Partners", "anatolia", "TR", "Europe/Istanbul", ["resale", "services"], []),
    ("Sakura Systems", "sakura", "JP", "Asia/Tokyo", ["technology", "resale"], []),
    ("Pampas Digital", "pampas", "AR", "America/Argentina/Buenos_Aires", ["resale"], []),
    ("Maple Integrators", "maple", "CA", "America/Toronto", ["services"], []),
    ("Fjord Analytics", "fjord", "NO", "Europe/Oslo", ["technology"], []),
    ("Kilimanjaro Data", "kilimanjaro", "KE", "Africa/Nairobi", ["technology"], []),
    ("Baltic Resale Group", "baltic", "LV", "Europe/Riga", ["resale"], []),
    ("Outback Reselling", "outback", "AU", "Australia/Sydney", ["resale"], []),
]


def _person(email: str, full_name: str, **flags) -> User:
    user, _ = User.objects.update_or_create(email=email, defaults={"full_name": full_name, "is_active": True, **flags})
    if not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def seed() -> dict:
    """Create or refresh the demo motions, partners and people; return counts."""
    motions = {}
    for slug, name, description in MOTIONS:
        motions[slug], _ = Motion.objects.update_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )

    staff = {}
    for email, full_name, role, admin_access, superuser in STAFF:
        user = _person(email, full_name, is_staff=admin_access, is_superuser=superuser)
        user.groups.set([Group.objects.get(name=role.label)] if role else [])
        staff[email] = user

    for name, slug, country, zone, motion_slugs, people in PARTNERS:
        partner, _ = Partner.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "country": country,
                "time_zone": zone,
                "status": Partner.Status.ACTIVE,
                "partner_manager": staff["manager@demo.test"],
            },
        )
        for motion_slug in motion_slugs:
            PartnerMotion.objects.get_or_create(partner=partner, motion=motions[motion_slug])
        PartnerMotion.objects.filter(partner=partner).exclude(motion__slug__in=motion_slugs).delete()
        for email, full_name, member_role, support_contact in people:
            user = _person(email, full_name, is_staff=False, is_superuser=False)
            user.groups.clear()
            Membership.objects.update_or_create(
                user=user, defaults={"partner": partner, "role": member_role, "is_support_contact": support_contact}
            )
    return {"motions": Motion.objects.count(), "partners": Partner.objects.count(), "people": User.objects.count()}


def demo_code() -> str:
    """Return the current six-digit code of the demo staff authenticator (for `make run` and the browser tests)."""
    from binascii import unhexlify

    from django_otp.oath import totp

    return f"{totp(unhexlify(DEMO_TOTP_KEY)):06d}"


@transaction.atomic
def give_staff_authenticators() -> int:
    """Give every demo staff account a confirmed authenticator with the documented demo key."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    staff = [
        user for user in User.objects.filter(email__endswith="@demo.test") if user.is_portal_staff or user.is_staff
    ]
    for user in staff:
        TOTPDevice.objects.update_or_create(
            user=user, name="Demo authenticator", defaults={"key": DEMO_TOTP_KEY, "confirmed": True, "last_t": -1}
        )
    return len(staff)
