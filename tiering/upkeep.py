"""The periodic tiering work (hourly, idempotent): policies, due downgrades, stale claims, the annual re-tier."""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from . import notices
from .claims import release_stale_claims
from .downgrades import apply_due_downgrades
from .models import RetierRun
from .policies import activate_due_policies
from .retier import execute_run, start_run
from .schedule import annual_retier_date

log = logging.getLogger(__name__)


def run_upkeep(now: dt.datetime | None = None) -> dict[str, int]:
    """Do the periodic tiering work and return what changed; start this year's re-tier once its day has come."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    done = {
        "policies": activate_due_policies(today),
        "downgrades": apply_due_downgrades(today),
        **release_stale_claims(now, engagement_days=settings.EXCLUSIVITY_ENGAGEMENT_DAYS),
        "claims_expiring": notices.claims_expiring(now, engagement_days=settings.EXCLUSIVITY_ENGAGEMENT_DAYS),
    }
    for policy in notices.policies_untold(today):  # its worker's task was lost: tell them now
        notices.policy_published(policy, today=today, now=now)
    at_risk = notices.check_at_risk(today, now=now)
    if at_risk is not None:
        done["at_risk"] = at_risk
    run = _start_annual_retier(today)
    if run is not None:
        execute_run(run)
        done["retier_run"] = run.pk
    done["notices_mailed"] = notices.mail_until_idle()  # what a lost nudge left behind
    return done


def _start_annual_retier(today: dt.date) -> RetierRun | None:
    """Return this year's scheduled re-tier when it is due and not done yet, else None."""
    due = annual_retier_date(today.year)
    # A re-tier dated on or after this year's day, scheduled or started by hand, is this year's re-tier.
    done_this_year = RetierRun.objects.filter(
        Q(scheduled_for_year=today.year) | Q(kind=RetierRun.Kind.APPLY, as_of__gte=due)
    ).exclude(status=RetierRun.Status.FAILED)
    if today < due or done_this_year.exists():
        return None
    try:
        return start_run(kind=RetierRun.Kind.APPLY, as_of=due, by=None, scheduled_for_year=today.year)
    except ValidationError as error:
        log.warning("Annual re-tier of %s not started: %s", today.year, " ".join(error.messages))
        return None
