"""Admin of ticket imports: choose a source, dry run, read the report, run it for real; identities to look up."""

from datetime import UTC, datetime, time
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from partnerportal.admin import ReadOnlyAdmin, progress_bar
from partnerportal.exports import csv_response
from support import tasks
from support.imports import report
from support.imports.helpdesk import source_address
from support.imports.mapping import Mapping, MappingError, parse_mapping
from support.imports.records import SourceError
from support.imports.runner import start_import
from support.imports.sources import read_source
from support.models import ImportRun, SourceIdentity

# Report lines shown on the run's page; the CSV has them all.
FINDINGS_SHOWN = 200


def options(data: dict) -> dict:
    """Return the run's options from the start form: since (the day's start, UTC) and dry run."""
    since = data.get("since")
    return {"since": datetime.combine(since, time(), tzinfo=UTC) if since else None, "dry_run": data["dry_run"]}


def export_choices() -> list[tuple[str, str]]:
    """Return the exports put in IMPORTS_DIR, one directory each."""
    root = Path(settings.IMPORTS_DIR)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return [(str(folder), folder.name) for folder in folders]


def in_imports_dir(path: Path) -> bool:
    return Path(settings.IMPORTS_DIR).resolve() in path.resolve().parents


class StartImportForm(forms.Form):
    source_system = forms.ChoiceField(label="Source", choices=ImportRun.Source.choices)
    source_dir = forms.ChoiceField(
        label="Export",
        required=False,
        help_text="Zendesk: a directory of the imports folder on the server (IMPORTS_DIR); docs/migration.md.",
    )
    source_url = forms.CharField(
        label="Database URL",
        required=False,
        max_length=400,
        help_text="django-helpdesk: postgres://user@host:5432/name (password in ~/.pgpass), or "
        "sqlite:////path/db.sqlite3 for a file in the imports folder. Read only.",
    )
    media_root = forms.ChoiceField(
        label="Attachments folder",
        required=False,
        help_text="django-helpdesk: a copy of its MEDIA_ROOT in the imports folder (optional).",
    )
    mapping = forms.FileField(required=False, help_text="YAML or TOML; without one the defaults apply.")
    since = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Only tickets updated since then."
    )
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run (write nothing, report what would move)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source_dir"].choices = [("", "—"), *export_choices()]
        self.fields["media_root"].choices = [("", "—"), *export_choices()]

    def clean(self) -> dict:
        """Add the source's address for its reader: the export's directory, or the database URL."""
        data = super().clean() or {}
        if data.get("source_system") == ImportRun.Source.HELPDESK:
            url = data.get("source_url", "").strip()
            if not url:
                raise ValidationError("A django-helpdesk import needs the database URL.")
            if url.startswith("sqlite:") and not in_imports_dir(Path(url.removeprefix("sqlite:///"))):
                raise ValidationError("A SQLite source must be a file in the imports folder (IMPORTS_DIR).")
            data["address"] = source_address(url, data.get("media_root") or None)
        elif data.get("source_system"):
            if not data.get("source_dir"):
                raise ValidationError("A Zendesk import needs an export directory.")
            data["address"] = data["source_dir"]
        return data

    def clean_mapping(self) -> Mapping:
        upload = self.cleaned_data.get("mapping")
        if not upload:
            return Mapping()
        try:
            return parse_mapping(upload.read(), upload.name, toml=upload.name.lower().endswith(".toml"))
        except MappingError as error:
            raise ValidationError(str(error)) from None


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "source_description", "state", "progress", "started_at", "finished_at"]
    list_filter = ["source_system", "dry_run", "state"]
    list_select_related = ["created_by"]
    fields = readonly_fields = (
        "source_system",
        "source_description",
        "dry_run",
        "since",
        "state",
        "progress",
        "error",
        "created_by",
        "started_at",
        "heartbeat_at",
        "finished_at",
    )
    change_form_template = "admin/support/importrun/change_form.html"
    change_list_template = "admin/support/importrun/change_list.html"

    @admin.display(description="Progress")
    def progress(self, run):
        return progress_bar(run.progress_percent(), run.processed, run.total, "source objects")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("start/", wrap(self.start_view), name="support_importrun_start"),
            path("<path:object_id>/run/", wrap(self.run_view), name="support_importrun_run"),
            path("<path:object_id>/csv/", wrap(self.csv_view), name="support_importrun_csv"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = get_object_or_404(ImportRun, pk=object_id)
        findings = run.findings.order_by("pk")
        extra = {
            "run": run,
            "header": report.HEADER,
            "rows": report.rows(run),
            "findings": findings[:FINDINGS_SHOWN],
            "findings_count": findings.count(),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def start_view(self, request):
        if not request.user.has_perm("support.add_importrun"):
            raise PermissionDenied
        form = StartImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                run = self._start(request, data["source_system"], data["address"], data["mapping"], **options(data))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return redirect("admin:support_importrun_change", run.pk)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form, "title": "Import tickets"}
        return TemplateResponse(
            request, "admin/support/importrun/start.html", context, status=400 if form.errors else 200
        )

    def run_view(self, request, object_id):
        """Run for real what a finished dry run showed: same source, same mapping (POST; GET shows the run)."""
        if request.method != "POST":
            return redirect("admin:support_importrun_change", object_id)
        if not request.user.has_perm("support.add_importrun"):
            raise PermissionDenied
        dry = get_object_or_404(ImportRun, pk=object_id, dry_run=True, state=ImportRun.State.DONE)
        try:
            run = self._start(
                request, dry.source_system, dry.source_description, Mapping(dry.mapping), since=dry.since, dry_run=False
            )
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), level="error")
            return redirect("admin:support_importrun_change", dry.pk)
        return redirect("admin:support_importrun_change", run.pk)

    def _start(self, request, system, source_dir, mapping, *, since, dry_run):
        """Read and check the source, start (or resume) its run and hand it to a worker; ValidationError says why not."""
        try:
            source = read_source(system, source_dir, since=since)
            run, resumed = start_import(source, mapping, dry_run=dry_run, since=since, by=request.user)
        except SourceError as error:
            raise ValidationError(str(error)) from None
        tasks.enqueue_import(run)
        self.message_user(request, f"{run} {'resumed' if resumed else 'started'}.")
        return run

    def csv_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(ImportRun, pk=object_id)
        rows = [*report.rows(run), [], report.FINDINGS_HEADER, *report.finding_rows(run)]
        return csv_response(f"import-{run.pk}-report.csv", report.HEADER, rows)


@admin.register(SourceIdentity)
class SourceIdentityAdmin(ReadOnlyAdmin):
    list_display = ["source_system", "object_type", "source_id", "content_type", "object_id", "last_run", "updated_at"]
    list_filter = ["source_system", "object_type"]
    search_fields = ["source_id"]
    list_select_related = ["content_type", "last_run"]
    fields = readonly_fields = (
        "source_system",
        "object_type",
        "source_id",
        "content_type",
        "object_id",
        "fingerprint",
        "first_run",
        "last_run",
        "imported_at",
        "updated_at",
    )
