"""Who takes an escalation level now: the on-call rotation's primary, else its secondary, else the next
level up, else a support manager — never nobody — and how that person was found, in words.

Schedules are read from the database once per router and asked as pure values (support.rules.oncall),
so routing a whole sweep batch costs a few queries, not one per ticket.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db.models import Prefetch, QuerySet

from programs.models import StaffRole, User
from support.models import OnCallLayer, OnCallMember, OnCallRole, OnCallSchedule, SupportPlan
from support.rules import oncall


def pure_schedule(schedule: OnCallSchedule, role: str) -> oncall.Schedule:
    """Return the pure schedule of one role (layers and members prefetched); people are user ids."""
    layers = [
        oncall.Rotation(
            people=tuple(member.person_id for member in layer.members.all()),
            start=layer.starts_on,
            handoff=layer.handoff,
            length_days=layer.length_days,
            window_start=layer.window_start,
            window_end=layer.window_end,
        )
        for layer in sorted(schedule.layers.all(), key=lambda layer: layer.position)
        if layer.role == role and layer.members.all()
    ]
    overrides = [
        oncall.Override(o.person_id, o.starts_at, o.ends_at) for o in schedule.overrides.all() if o.role == role
    ]
    return oncall.Schedule(schedule.time_zone, tuple(layers), tuple(overrides))


def schedules_with_people() -> QuerySet[OnCallSchedule]:
    members = OnCallMember.objects.order_by("position")
    layers = OnCallLayer.objects.prefetch_related(Prefetch("members", members))
    return OnCallSchedule.objects.prefetch_related(Prefetch("layers", layers), "overrides")


def on_call_at(schedule: oncall.Schedule, at: datetime) -> int | None:
    """Return the user id on call at `at` (the pure schedules built here hold user ids)."""
    return cast(int | None, oncall.on_call_at(schedule, at))


def shifts(schedule: oncall.Schedule, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime, int | None]]:
    """Return the shifts in [lo, hi) with the user id on each (the pure schedules built here hold user ids)."""
    return cast(list[tuple[datetime, datetime, int | None]], oncall.shifts(schedule, lo, hi))


@dataclass(frozen=True)
class Route:
    person_id: int | None
    via: str


class Router:
    """Routes escalations at one instant; everything it reads is read once."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._schedules = {schedule.pk: schedule for schedule in schedules_with_people()}
        self._pure: dict[tuple[int, str], oncall.Schedule] = {}
        self._managers = list(
            User.objects.with_staff_role(StaffRole.SUPPORT_MANAGER).order_by("pk").values_list("pk", flat=True)
        )
        self._people: dict[int, tuple[bool, str]] = {}  # id -> (active, name), read as needed
        self._on_call: dict[tuple[int, str], int | None] = {}  # (schedule, role) -> who, at self.now

    def _person(self, person_id: int) -> tuple[bool, str]:
        if person_id not in self._people:
            found = User.objects.filter(pk=person_id).values_list("is_active", "full_name", "email").first()
            self._people[person_id] = (found[0], found[1] or found[2]) if found else (False, "")
        return self._people[person_id]

    def on_call(self, schedule_id: int, role: str) -> int | None:
        """Return who is on call now for a schedule's role (an active person), or None."""
        key = (schedule_id, role)
        if key not in self._on_call:  # one instant: a whole batch asks the same schedules
            schedule = self._schedules.get(schedule_id)
            if schedule is None:
                return None
            if key not in self._pure:
                self._pure[key] = pure_schedule(schedule, role)
            person = on_call_at(self._pure[key], self.now)
            self._on_call[key] = person if person is not None and self._person(person)[0] else None
        return self._on_call[key]

    def route(self, levels: list[dict[str, Any]], rank: int) -> Route:
        """Return who takes level `rank` of a ticket's escalation terms, falling through as needed."""
        missed: list[str] = []
        for level in sorted((level for level in levels if level["rank"] >= rank), key=lambda level: level["rank"]):
            found = self._level_person(level)
            if found is not None:
                person, how = found
                detour = f" (nobody on call for {', '.join(missed)})" if missed else ""
                return Route(person, f"{level['name']}: {how}{detour}")
            missed.append(level["name"])
        if self._managers:
            return Route(self._managers[0], f"nobody on call for {', '.join(missed)}: the support manager")
        return Route(None, f"nobody on call for {', '.join(missed)} and no support manager: the queue")

    def _level_person(self, level: dict[str, Any]) -> tuple[int, str] | None:
        if level.get("person"):
            return (level["person"], "named person") if self._person(level["person"])[0] else None
        schedule_id = level.get("schedule")
        schedule = self._schedules.get(schedule_id) if schedule_id is not None else None
        if schedule is None:
            return None
        for role in (OnCallRole.PRIMARY, OnCallRole.SECONDARY):
            person = self.on_call(schedule.pk, role)
            if person is not None:
                return person, f"{role.label.lower()} on call ({schedule.name})"
        return None

    def name(self, person_id: int | None) -> str:
        return self._person(person_id)[1] if person_id else "nobody"


@dataclass(frozen=True)
class Contact:
    rank: int
    role: str
    name: str
    email: str
    phone: str
    when_to_use: str
    response_minutes: int | None
    live: bool  # the name is whoever is on call right now


def escalation_contacts(plan: SupportPlan | None, now: datetime) -> list[Contact]:
    """Return the escalation contacts a partner on `plan` may use, from the policy that drives escalation.

    Executive levels appear only when the plan includes executive escalation; a level that goes to
    a rotation shows the person on call now.
    """
    if plan is None:
        return []
    policy = getattr(plan, "escalation_policy", None)
    if policy is None:
        return []
    router = Router(now)
    contacts = []
    for level in policy.levels.select_related("person").order_by("rank"):
        if not level.published or (level.executive and not plan.includes_executive_escalation):
            continue
        name, email, live = level.contact_name, level.contact_email, False
        if level.schedule_id and not name:
            person = router.on_call(level.schedule_id, OnCallRole.PRIMARY) or router.on_call(
                level.schedule_id, OnCallRole.SECONDARY
            )
            if person is not None:
                name, live = router.name(person), True
                email = email or User.objects.filter(pk=person).values_list("email", flat=True).first() or ""
        elif level.person_id and not name:
            name, email = level.person.get_full_name(), email or level.person.email
        contacts.append(
            Contact(
                rank=level.rank,
                role=level.contact_role or level.name,
                name=name or "On call",
                email=email,
                phone=level.contact_phone,
                when_to_use=level.when_to_use,
                response_minutes=level.response_minutes,
                live=live,
            )
        )
    return contacts


@dataclass
class ScheduleView:
    """A schedule as the on-call page shows it: who is on call now, and the shifts to come."""

    schedule: OnCallSchedule
    now: dict[str, str]  # role -> name
    shifts: dict[str, list[tuple[datetime, datetime, str]]]  # role -> (start, end, name)
    levels: list[str]


def oncall_overview(now: datetime, *, days: int = 7) -> list[ScheduleView]:
    """Return every schedule with who is on call now and the shifts of the next `days` days."""
    from datetime import timedelta

    schedules = list(schedules_with_people().prefetch_related("escalation_levels__policy__plan"))
    pure = {(s.pk, role): pure_schedule(s, role) for s in schedules for role in OnCallRole.values}
    until = now + timedelta(days=days)
    spans = {key: shifts(schedule, now, until) for key, schedule in pure.items()}
    people = {person for found in spans.values() for _, _, person in found if person is not None}
    names: dict[int | None, str] = {
        pk: name or email
        for pk, name, email in User.objects.filter(pk__in=people).values_list("pk", "full_name", "email")
    }
    views = []
    for schedule in schedules:
        views.append(
            ScheduleView(
                schedule=schedule,
                now={
                    role: names.get(on_call_at(pure[(schedule.pk, role)], now), "nobody") for role in OnCallRole.values
                },
                shifts={
                    role: [
                        (start, end, names.get(person, "nobody")) for start, end, person in spans[(schedule.pk, role)]
                    ]
                    for role in OnCallRole.values
                },
                levels=[f"{level.policy.plan}: {level.name}" for level in schedule.escalation_levels.all()],
            )
        )
    return views
