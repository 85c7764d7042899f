"""What each staff role may do, as Django permissions on the group of the same name.

Later apps add their models' permissions here. `sync_staff_groups` runs after every migrate, so
a fresh database, the test database and production all get the same groups.
"""

from django.contrib.auth.models import Group, Permission

from .models import StaffRole

_VIEW_DIRECTORY = ["programs.view_partner", "programs.view_membership", "programs.view_motion"]
_SUPPORT_SETUP = [
    f"support.{action}_{model}"
    for action in ("view", "add", "change", "delete")
    for model in (
        "businesscalendar",
        "calendarwindow",
        "calendarholiday",
        "supportplan",
        "tiersupportplan",
        "severitytarget",
        "oncallschedule",
        "oncalllayer",
        "oncallmember",
        "oncalloverride",
        "escalationpolicy",
        "escalationlevel",
        "escalationtrigger",
        "chatchannel",
    )
]
_TIERING_SETUP = [
    f"tiering.{action}_{model}"
    for action in ("view", "add", "change", "delete")
    for model in (
        "ladder",
        "tier",
        "tierbenefit",
        "benefit",
        "policy",
        "criterion",
        "mdfcriterion",
        "qualificationcheck",
    )
]
_METRICS = [
    *(
        f"programs.{action}_{model}"
        for action in ("view", "add", "change", "delete")
        for model in ("metric", "certification")
    ),
    "programs.view_metricvalue",
    "programs.add_metricvalue",
    "programs.change_metricvalue",
    "programs.view_metricimport",
]
# Standings, history and results change only through re-tiers and conversations: no change permission.
_TIERING_READ = [
    f"tiering.view_{model}"
    for model in (
        "ladder", "tier", "tierbenefit", "benefit", "policy", "criterion", "mdfcriterion", "qualificationcheck",
        "standing", "tierchange", "downgradeconversation", "retierrun", "retierresult", "accountclaim", "engagement",
    )
]  # fmt: skip
# Both managers write the knowledge base; ratings and deflections are only read; action items are
# reassigned in the admin and closed on the review page.
_KNOWLEDGE_BASE = [
    *(
        f"support.{action}_{model}"
        for action in ("view", "add", "change", "delete")
        for model in ("article", "articlecategory")
    ),
    "support.view_csatresponse",
    "support.view_deflection",
    "support.view_actionitem",
    "support.change_actionitem",
]
_SUPPORT_READ = [
    "support.view_escalation",
    "support.view_notification",
    "support.view_ticket",
    "support.view_ticketattachment",
    "support.view_supportplan",
    "support.view_businesscalendar",
    "support.view_chatalert",
]
# Both managers import tickets from another helpdesk (partners and people come with them); runs
# are started from the import page, never edited; identities and report lines are only read.
_IMPORTS = [
    "support.view_importrun",
    "support.add_importrun",
    "support.view_importfinding",
    "support.view_sourceidentity",
]

ROLE_PERMISSIONS: dict[StaffRole, list[str]] = {
    StaffRole.SUPPORT_L1: _VIEW_DIRECTORY,
    StaffRole.SUPPORT_L2: _VIEW_DIRECTORY,
    StaffRole.ENGINEERING: _VIEW_DIRECTORY,
    StaffRole.SUPPORT_MANAGER: [
        *_VIEW_DIRECTORY,
        "programs.view_user",
        "programs.view_invitation",
        *_SUPPORT_SETUP,
        *_SUPPORT_READ,
        *_TIERING_READ,
        *_KNOWLEDGE_BASE,
        *_IMPORTS,
    ],
    StaffRole.PROGRAM_MANAGER: [
        *(
            f"programs.{action}_{model}"
            for action in ("view", "add", "change")
            for model in ("partner", "membership", "invitation", "motion", "partnermotion")
        ),
        "programs.view_user",
        "programs.add_user",
        "programs.change_user",
        *_SUPPORT_SETUP,
        *_SUPPORT_READ,
        *_TIERING_SETUP,
        *_TIERING_READ,
        *_METRICS,
        *_KNOWLEDGE_BASE,
        "tiering.add_downgradeconversation",
        "tiering.add_retierrun",
        "tiering.change_accountclaim",
        *_IMPORTS,
    ],
}

# Roles that work in the Django admin (is_staff); the support desk works in the portal pages.
ADMIN_ROLES = frozenset({StaffRole.PROGRAM_MANAGER, StaffRole.SUPPORT_MANAGER})


def sync_staff_groups(**kwargs) -> None:
    """Create one group per staff role and give it exactly its permissions."""
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.label)
        wanted = [tuple(name.split(".", 1)) for name in codenames]
        permissions = Permission.objects.filter(
            content_type__app_label__in={app for app, _ in wanted}, codename__in={code for _, code in wanted}
        ).select_related("content_type")
        group.permissions.set(p for p in permissions if (p.content_type.app_label, p.codename) in wanted)
