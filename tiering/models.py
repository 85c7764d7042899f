"""Ladders, tiers, versioned criteria policies, benefits, standings and re-tier runs.

A partner runs one or more motions; each motion has one ladder of ordered tiers. What it takes to
reach a tier is a versioned policy of criteria (metric thresholds over a measurement window);
where a partner sits is its standing; every re-tier run stores each partner's result with its
attribution, and every tier change is kept as history.
"""

import datetime as dt

import pghistory
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from programs.models import Metric, Motion, Partner, PartnerScopedQuerySet

# The minimum notice between publishing criteria and their taking effect: partners get a quarter to adapt.
POLICY_NOTICE_DAYS = 90
# How long a partner who would drop keeps its tier and benefits.
GRANDFATHERING = relativedelta(months=3)
# How long a named-account claim gives a partner exclusivity: the offsetting rule of this costly benefit.
EXCLUSIVITY_DAYS = 90
METAL_NAMES = frozenset({"bronze", "silver", "gold", "platinum", "diamond", "titanium", "copper", "iron", "steel"})


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Ladder(models.Model):
    """The ordered tiers of one motion."""

    motion = models.OneToOneField(Motion, on_delete=models.PROTECT, related_name="ladder")
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["motion__name"]

    def __str__(self):
        return self.name

    def design_warnings(self, tier_names: list[str] | None = None) -> list[str]:
        """Return the design problems of this ladder: fewer than two or five and more tiers, metal names."""
        names = tier_names if tier_names is not None else [tier.name for tier in self.tiers.all()]
        warnings = []
        if len(names) >= 5:
            warnings.append(
                f"{self} has {len(names)} tiers. With five or more, partners stop remembering which tier "
                "they are in; two to four is the working range."
            )
        elif len(names) < 2:
            warnings.append(f"{self} has {len(names)} tier(s); a ladder needs at least two to mean anything.")
        metals = [name for name in names if set(name.lower().split()) & METAL_NAMES]
        if metals:
            warnings.append(
                f"Metal names ({', '.join(metals)}) say the program copied a template; name tiers after "
                "what the partner does (Selling, Specialist, Strategic…)."
            )
        return warnings


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Benefit(models.Model):
    """An entry of the benefits catalogue; a costly benefit carries the rule that offsets its conflict."""

    class Kind(models.TextChoices):
        MARGIN = "margin", "Margin points"
        MDF = "mdf", "MDF eligibility"
        DEAL_REGISTRATION = "deal_registration", "Deal-registration priority"
        EXCLUSIVITY = "exclusivity", "Named-account exclusivity"
        PARTNER_MANAGER = "partner_manager", "Partner manager"
        EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
        CO_SELL = "co_sell", "Direct-team co-sell"
        CO_MARKETING = "co_marketing", "Co-marketing"
        LEADS = "leads", "Leads"
        ROADMAP = "roadmap", "Roadmap input"
        ENABLEMENT = "enablement", "Enablement and access"
        OTHER = "other", "Other"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)
    is_costly = models.BooleanField(
        default=False, help_text="Costs the program real money or creates a conflict with other partners."
    )
    offsetting_rule = models.TextField(
        blank=True,
        help_text="Required for a costly benefit: the rule that keeps it from turning the program political.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_costly=False) | ~Q(offsetting_rule=""),
                name="costly_benefit_has_offsetting_rule",
                violation_error_message="A costly benefit needs its offsetting rule: design how its cost is kept in check first.",
            )
        ]

    def __str__(self):
        return self.name


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Tier(models.Model):
    """One rung of a ladder; rank 1 is the entry tier."""

    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=60)
    rank = models.PositiveSmallIntegerField(help_text="1 is the entry tier; higher is better.")
    description = models.TextField(blank=True)
    benefits = models.ManyToManyField(Benefit, through="TierBenefit", related_name="tiers", blank=True)

    class Meta:
        ordering = ["ladder", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["ladder", "rank"], name="tier_rank_unique"),
            models.UniqueConstraint(fields=["ladder", "name"], name="tier_name_unique"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="tier_rank_from_one"),
        ]

    def __str__(self):
        return f"{self.ladder.motion.name}: {self.name}"

    @property
    def is_entry(self) -> bool:
        return self.rank == 1


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class TierBenefit(models.Model):
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="tier_benefits")
    benefit = models.ForeignKey(Benefit, on_delete=models.PROTECT, related_name="tier_benefits")
    detail = models.CharField(max_length=200, blank=True, help_text="e.g. +5 margin points.")

    class Meta:
        ordering = ["tier", "benefit__name"]
        constraints = [models.UniqueConstraint(fields=["tier", "benefit"], name="tier_benefit_unique")]

    def __str__(self):
        return f"{self.benefit}{f' ({self.detail})' if self.detail else ''}"


class PolicyQuerySet(models.QuerySet):
    def announced(self) -> "PolicyQuerySet":
        """Return policies that were published (in force, upcoming or retired): never drafts."""
        return self.exclude(status=Policy.Status.DRAFT)

    def in_force_on(self, ladder, day: dt.date):
        """Return the policy of `ladder` in force on `day`, or None."""
        return self.announced().filter(ladder=ladder, effective_from__lte=day).order_by("-effective_from").first()

    def upcoming(self, ladder, day: dt.date):
        """Return the next published policy of `ladder` that takes effect after `day`, or None."""
        return self.announced().filter(ladder=ladder, effective_from__gt=day).order_by("effective_from").first()


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Policy(models.Model):
    """A version of a ladder's criteria: draft → published → effective → retired."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published (upcoming)"
        EFFECTIVE = "effective", "Effective"
        RETIRED = "retired", "Retired"

    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="policies")
    version = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False)
    summary = models.TextField(blank=True, help_text="What changes in this version, in a sentence or two.")
    effective_from = models.DateField(
        null=True, blank=True, help_text=f"At least {POLICY_NOTICE_DAYS} days after the day it is published."
    )
    published_on = models.DateField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    retired_on = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["ladder", "-version"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(fields=["ladder", "version"], name="policy_version_unique"),
            models.UniqueConstraint(
                fields=["ladder", "effective_from"],
                condition=~Q(status="draft"),
                name="policy_one_per_effective_date",
                violation_error_message="Another published policy of this ladder takes effect on that day.",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_on__isnull=False, effective_from__isnull=False),
                name="policy_published_has_dates",
            ),
        ]

    def __str__(self):
        return f"{self.ladder} criteria v{self.version}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def clean(self):
        super().clean()
        if not self.is_draft and self.effective_from and self.published_on:
            earliest = self.published_on + dt.timedelta(days=POLICY_NOTICE_DAYS)
            if self.effective_from < earliest:
                raise ValidationError(
                    {"effective_from": notice_error(self.published_on)},
                )


def notice_error(published_on: dt.date) -> str:
    earliest = published_on + dt.timedelta(days=POLICY_NOTICE_DAYS)
    return (
        f"Criteria take effect at least {POLICY_NOTICE_DAYS} days after they are published: published on "
        f"{published_on:%d %b %Y}, the earliest date is {earliest:%d %b %Y}."
    )


class Window(models.TextChoices):
    """Measurement windows, all ending on the day of the evaluation; lifetime achievement never counts."""

    TRAILING_12_MONTHS = "trailing_12m", "Last 12 months"
    CALENDAR_YEAR = "calendar_year", "Calendar year to date"
    PREVIOUS_CALENDAR_YEAR = "previous_year", "Previous calendar year"
    TRAILING_QUARTER = "trailing_3m", "Last 3 months"


def window_bounds(window: str, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """Return the first and last day (inclusive) of `window` for an evaluation on `as_of`."""
    if window == Window.TRAILING_12_MONTHS:
        return as_of - relativedelta(years=1) + dt.timedelta(days=1), as_of
    if window == Window.TRAILING_QUARTER:
        return as_of - relativedelta(months=3) + dt.timedelta(days=1), as_of
    if window == Window.CALENDAR_YEAR:
        return dt.date(as_of.year, 1, 1), as_of
    if window == Window.PREVIOUS_CALENDAR_YEAR:
        return dt.date(as_of.year - 1, 1, 1), dt.date(as_of.year - 1, 12, 31)
    raise ValueError(f"Unknown window {window!r}")


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Criterion(models.Model):
    """A threshold a partner must reach on a metric over a window to hold a tier under a policy."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="criteria")
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="criteria")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="criteria")
    threshold = models.DecimalField(max_digits=16, decimal_places=2, help_text="At least this value passes.")
    window = models.CharField(max_length=20, choices=Window.choices, default=Window.TRAILING_12_MONTHS)

    class Meta:
        ordering = ["policy", "tier__rank", "pk"]
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(fields=["policy", "tier", "metric"], name="criterion_once_per_tier"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="criterion_threshold_not_negative"),
        ]

    def __str__(self):
        return f"{self.tier.name}: {self.metric} ≥ {self.threshold}"

    def clean(self):
        super().clean()
        if self.policy_id and self.tier_id and self.tier.ladder_id != self.policy.ladder_id:
            raise ValidationError({"tier": "Choose a tier of the policy's own ladder."})
        if self.metric_id and self.threshold is not None:
            try:
                self.metric.validate_value(self.threshold)
            except ValidationError as error:
                raise ValidationError({"threshold": error.messages}) from error


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class MdfCriterion(models.Model):
    """A published criterion for Market Development Funds, open to any partner who meets it, any tier."""

    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="mdf_criteria")
    threshold = models.DecimalField(max_digits=16, decimal_places=2)
    window = models.CharField(max_length=20, choices=Window.choices, default=Window.TRAILING_12_MONTHS)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["metric__name"]
        verbose_name = "MDF criterion"
        verbose_name_plural = "MDF criteria"
        constraints = [
            models.UniqueConstraint(fields=["metric"], name="mdf_criterion_once_per_metric"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="mdf_threshold_not_negative"),
        ]

    def __str__(self):
        return f"MDF: {self.metric} ≥ {self.threshold}"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class QualificationCheck(models.Model):
    """The 4C gate (customer base, credibility, capability, commitment) for a partner in a motion."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="qualification_checks")
    motion = models.ForeignKey(Motion, on_delete=models.PROTECT, related_name="qualification_checks")
    assessed_on = models.DateField(default=timezone.localdate)
    customer_base = models.BooleanField(help_text="Their customers overlap our ideal customer profile.")
    credibility = models.BooleanField(help_text="References and standing in the market.")
    capability = models.BooleanField(help_text="Active sellers / consultants / engineers who can deliver.")
    commitment = models.BooleanField(help_text="Commercial mechanics and investment that line up with ours.")
    notes = models.TextField(blank=True)
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["partner", "motion", "-assessed_on"]
        verbose_name = "qualification check (4C)"
        verbose_name_plural = "qualification checks (4C)"
        indexes = [models.Index(fields=["motion", "partner", "-assessed_on"], name="qualification_latest_idx")]

    def __str__(self):
        return f"4C of {self.partner} in {self.motion} on {self.assessed_on}"

    @property
    def passed(self) -> bool:
        return self.customer_base and self.credibility and self.capability and self.commitment


class StandingQuerySet(PartnerScopedQuerySet):
    def pending_downgrade(self):
        return self.filter(grandfathered_until__isnull=False)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Standing(models.Model):
    """Where a partner sits on a ladder now, and a pending drop with its grandfathering date."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="standings")
    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="standings")
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="standings")
    since = models.DateField()
    # A pending drop: the partner keeps `tier` and its benefits until `grandfathered_until`, and the
    # drop to `pending_tier` (none: off the ladder) applies only once a downgrade conversation is on record.
    grandfathered_until = models.DateField(null=True, blank=True)
    pending_since = models.DateField(null=True, blank=True, help_text="The day of the re-tier that decided the drop.")
    pending_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pending_run = models.ForeignKey(
        "RetierRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    exit_candidate = models.BooleanField(
        default=False, help_text="Qualifies for no tier, or failed the 4C gate: a case for a graceful exit."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = StandingQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "ladder"]
        constraints = [models.UniqueConstraint(fields=["partner", "ladder"], name="standing_once_per_ladder")]
        indexes = [
            models.Index(
                fields=["grandfathered_until"],
                name="standing_pending_idx",
                condition=Q(grandfathered_until__isnull=False),
            )
        ]

    def __str__(self):
        return f"{self.partner} · {self.tier.name if self.tier else 'no tier'} ({self.ladder.motion.name})"

    @property
    def has_pending_drop(self) -> bool:
        return self.grandfathered_until is not None

    def is_grandfathered(self, on: dt.date) -> bool:
        """Return True while the partner keeps a tier it no longer qualifies for."""
        return self.grandfathered_until is not None and on <= self.grandfathered_until


class TierChangeQuerySet(PartnerScopedQuerySet):
    pass


class TierChange(models.Model):
    """A partner's move on a ladder: from, to, why, on which run, effective when."""

    class Kind(models.TextChoices):
        ENTRY = "entry", "Joined the ladder"
        UPGRADE = "upgrade", "Upgrade"
        DOWNGRADE = "downgrade", "Downgrade"
        EXIT = "exit", "Left the ladder"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_changes")
    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="tier_changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("RetierRun", null=True, blank=True, on_delete=models.PROTECT, related_name="changes")
    reason = models.TextField()
    effective_on = models.DateField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TierChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_on", "-pk"]
        indexes = [models.Index(fields=["partner", "ladder", "-effective_on"], name="tier_change_partner_idx")]

    def __str__(self):
        return f"{self.partner}: {self.from_tier or '—'} → {self.to_tier or '—'} on {self.effective_on}"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class DowngradeConversation(models.Model):
    """The recorded conversation without which a downgrade never applies: nobody drops without being told why."""

    standing = models.ForeignKey(Standing, on_delete=models.CASCADE, related_name="conversations")
    held_on = models.DateField()
    held_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    partner_contact = models.CharField(max_length=150, help_text="Who we spoke to at the partner.")
    notes = models.TextField(help_text="What was said: criteria, where they stand, what would put them back.")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-pk"]

    def __str__(self):
        return f"Downgrade conversation with {self.standing.partner} on {self.held_on}"


class RetierRunQuerySet(models.QuerySet):
    def applied(self):
        return self.filter(kind=RetierRun.Kind.APPLY, status=RetierRun.Status.DONE)


class RetierRun(models.Model):
    """A computation of every partner × ladder: a dry run (what-if) or a re-tier that applies."""

    class Kind(models.TextChoices):
        DRY_RUN = "dry_run", "Dry run (what-if)"
        APPLY = "apply", "Re-tier (applies changes)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    as_of = models.DateField(help_text="The day the criteria are evaluated on.")
    ladder = models.ForeignKey(
        Ladder, null=True, blank=True, on_delete=models.CASCADE, related_name="runs", help_text="Empty: every ladder."
    )
    policy = models.ForeignKey(
        Policy,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="runs",
        help_text="What-if of this policy (drafts allowed); empty: the policy in force on the day.",
    )
    scheduled_for_year = models.PositiveSmallIntegerField(null=True, blank=True, unique=True, editable=False)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    criteria = models.JSONField(default=dict, blank=True, help_text="The tiers and criteria the run evaluated.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RetierRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "re-tier run"
        constraints = [
            # Two re-tiers applying at once would race on the same standings.
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind="apply", status__in=["queued", "running"]),
                name="retier_one_apply_at_a_time",
            )
        ]

    def __str__(self):
        scope = self.ladder.name if self.ladder_id else "all ladders"
        return f"{self.get_kind_display()} #{self.pk} as of {self.as_of} ({scope})"

    @property
    def is_dry_run(self) -> bool:
        return self.kind == self.Kind.DRY_RUN

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    def progress_percent(self) -> int:
        """Return how far the run is, 0–100."""
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0


class RetierResult(models.Model):
    """One partner × ladder of a run: current and computed tier, the move, and its attribution.

    A run writes one row per partner and ladder (300,000 for 100,000 partners), so its references
    are not database foreign keys: checking five per row at commit cost a third of a re-tier.
    Django still cascades and protects on deletion, and the columns stay indexed.
    """

    class Move(models.TextChoices):
        ENTRY = "entry", "Joins the ladder"
        UP = "up", "Moves up"
        SAME = "same", "Stays"
        DOWN = "down", "Would drop (grandfathered)"
        EXIT = "exit", "Qualifies for no tier"
        UNQUALIFIED = "unqualified", "Not yet qualified"

    run = models.ForeignKey(RetierRun, on_delete=models.CASCADE, related_name="results", db_constraint=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    current_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    computed_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    move = models.CharField(max_length=12, choices=Move.choices)
    gate_passed = models.BooleanField(null=True, help_text="4C gate: empty when never assessed.")
    exit_candidate = models.BooleanField(default=False)
    # Attribution: the value of every criterion, in the order of the run's criteria snapshot (which
    # holds their thresholds and windows), the deciding criterion, and the reason in words.
    values = models.JSONField(default=list)
    deciding = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "ladder", "partner"]
        verbose_name = "re-tier result"
        constraints = [models.UniqueConstraint(fields=["run", "partner", "ladder"], name="retier_result_once")]
        indexes = [models.Index(fields=["run", "move"], name="retier_result_move_idx")]

    def __str__(self):
        return f"{self.partner}: {self.current_tier or '—'} → {self.computed_tier or '—'}"


class AccountClaimQuerySet(PartnerScopedQuerySet):
    def held(self) -> "AccountClaimQuerySet":
        return self.filter(released_at__isnull=True)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class AccountClaim(models.Model):
    """Named-account exclusivity: one partner holds an account for at most 90 days."""

    class Release(models.TextChoices):
        EXPIRED = "expired", "90 days are over"
        NO_ENGAGEMENT = "no_engagement", "No engagement logged"
        WITHDRAWN = "withdrawn", "Withdrawn by the partner"
        PROGRAM = "program", "Released by the program"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="account_claims")
    account_name = models.CharField(max_length=200)
    account_key = models.CharField(max_length=200, editable=False, help_text="The name, case- and space-folded.")
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=20, choices=Release.choices, blank=True)

    objects = AccountClaimQuerySet.as_manager()

    class Meta:
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account_key"],
                condition=Q(released_at__isnull=True),
                name="account_held_by_one_partner",
                violation_error_message="Another partner holds this account.",
            )
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="claim_held_expiry_idx", condition=Q(released_at__isnull=True))
        ]

    def __str__(self):
        return f"{self.account_name} ({self.partner})"

    @property
    def is_held(self) -> bool:
        return self.released_at is None


class EngagementQuerySet(PartnerScopedQuerySet):
    partner_path = "claim__partner"


class Engagement(models.Model):
    """Work logged on a claimed account (a meeting, a proposal…): what keeps a claim alive."""

    claim = models.ForeignKey(AccountClaim, on_delete=models.CASCADE, related_name="engagements")
    logged_at = models.DateTimeField(default=timezone.now)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500)

    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["-logged_at"]

    def __str__(self):
        return f"{self.claim.account_name}: {self.note[:40]}"
