"""Re-tier runs and each partner's result with its attribution."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from programs.models import Partner

from .ladders import Ladder, Tier
from .policies import Policy


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
    # holds their thresholds and windows) and the deciding criterion; the reason is worded from
    # them when it is read (tiering.ladder_rules.ResultWording).
    values = models.JSONField(default=list)
    deciding = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["run", "ladder", "partner"]
        verbose_name = "re-tier result"
        constraints = [models.UniqueConstraint(fields=["run", "partner", "ladder"], name="retier_result_once")]
        indexes = [models.Index(fields=["run", "move"], name="retier_result_move_idx")]

    def __str__(self):
        return f"{self.partner}: {self.current_tier or '—'} → {self.computed_tier or '—'}"
