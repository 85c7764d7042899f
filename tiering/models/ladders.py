"""Ladders of ordered tiers, the benefits catalogue, and which benefits each tier gives."""

import pghistory
from django.db import models
from django.db.models import Q

from programs.models import Motion

# Tier names a program should avoid: metals say nothing about what a partner does.
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
