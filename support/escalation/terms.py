"""The escalation terms a ticket keeps: its plan's policy as it was when the ticket was filed."""

from typing import Any

from support.models import EscalationPolicy, SupportPlan


def escalation_snapshot(plan: SupportPlan) -> dict[str, Any]:
    """Return the plan's escalation policy as a ticket keeps it: later edits do not change live tickets."""
    policy = EscalationPolicy.objects.filter(plan=plan).prefetch_related("levels", "triggers__level").first()
    if policy is None:
        return {}
    return {
        "policy": policy.pk,
        "levels": [
            {
                "rank": level.rank,
                "name": level.name,
                "rule": level.rule,
                "after_minutes": level.after_minutes,
                "after_factor": float(level.after_factor) if level.after_factor is not None else None,
                "assigns": level.assigns,
                "executive": level.executive,
                "schedule": level.schedule_id,
                "person": level.person_id,
            }
            for level in policy.levels.all()
        ],
        "triggers": [{"condition": t.condition, "rank": t.level.rank} for t in policy.triggers.all()],
    }
