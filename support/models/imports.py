"""Imports from another helpdesk: the runs, what each source object became, and the report's findings."""

import datetime as dt

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ImportRun(models.Model):
    """One import of a source helpdesk: a dry run (writes nothing) or a real one, in batches."""

    class Source(models.TextChoices):
        ZENDESK = "zendesk", "Zendesk export"
        HELPDESK = "helpdesk", "django-helpdesk database"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done: every source object accounted for"
        INCOMPLETE = "incomplete", "Incomplete: objects failed or are unaccounted for"
        FAILED = "failed", "Failed (resumable)"

    source_system = models.CharField(max_length=20, choices=Source.choices)
    source_description = models.CharField(max_length=500, help_text="The directory or database the run read.")
    # A digest of the source as read: a run is resumed only on the same source.
    source_fingerprint = models.CharField(max_length=64, editable=False)
    dry_run = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True, help_text="Only tickets updated since then.")
    mapping = models.JSONField(default=dict, blank=True, help_text="The mapping the run applied.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.RUNNING)
    total = models.PositiveIntegerField(default=0, help_text="Source objects to account for.")
    processed = models.PositiveIntegerField(default=0)
    # Batches done (committed with their objects): a resumed run starts after them.
    batches_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Per object type: source, created, updated, …")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now, help_text="Moves with every batch.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "ticket import"
        constraints = [
            # Two processes importing one source at once would both create what is new.
            models.UniqueConstraint(
                fields=["source_system", "source_description"],
                condition=Q(state="running", dry_run=False),
                name="import_one_running_per_source",
            )
        ]

    def __str__(self):
        what = "Dry run" if self.dry_run else "Import"
        return f"{what} #{self.pk} from {self.get_source_system_display()}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.INCOMPLETE)

    def progress_percent(self) -> int:
        """Return how far the run is, 0–100."""
        if self.state == self.State.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0

    def is_stale(self, now: dt.datetime, after: dt.timedelta) -> bool:
        """Return True when the run still says running but has not moved for `after` (its process died)."""
        return self.state == self.State.RUNNING and self.heartbeat_at < now - after


class ImportFinding(models.Model):
    """A line of a run's report: a source object skipped or failed (with why), or a stand-in the run made."""

    class Kind(models.TextChoices):
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        PLACEHOLDER = "placeholder", "Placeholder account"
        HOLDING = "holding", "Sent to the holding partner"

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    object_type = models.CharField(max_length=20)
    source_id = models.CharField(max_length=100)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["run", "pk"]
        indexes = [models.Index(fields=["run", "kind"], name="import_finding_kind_idx")]

    def __str__(self):
        return f"{self.object_type} {self.source_id}: {self.reason}"


class SourceIdentity(models.Model):
    """What one source object became here: a second run finds it, compares, and updates instead of duplicating."""

    source_system = models.CharField(max_length=20, choices=ImportRun.Source.choices)
    object_type = models.CharField(max_length=20)
    source_id = models.CharField(max_length=100)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    # A digest of the source object (and the mapping it went through) when last imported.
    fingerprint = models.CharField(max_length=64)
    made_here = models.BooleanField(
        default=False, help_text="The import made the record (not a match to one we had): only those it updates."
    )
    first_run = models.ForeignKey(ImportRun, null=True, on_delete=models.SET_NULL, related_name="+")
    last_run = models.ForeignKey(ImportRun, null=True, on_delete=models.SET_NULL, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "source identities"
        constraints = [
            models.UniqueConstraint(fields=["source_system", "object_type", "source_id"], name="source_identity_once")
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="source_identity_target_idx")]

    def __str__(self):
        return f"{self.source_system} {self.object_type} {self.source_id}"
