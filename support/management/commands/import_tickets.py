import datetime as dt
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from support.imports import report
from support.imports.helpdesk import source_address
from support.imports.mapping import MappingError, load_mapping
from support.imports.records import SourceError
from support.imports.runner import BATCH_SIZE, execute_import, start_import
from support.imports.sources import READERS, read_source
from support.models import ImportRun


class Command(BaseCommand):
    help = (
        "Import tickets with their history from another helpdesk, idempotently: a second run updates what "
        "changed and adds what is new; an interrupted run resumes. Ends with the reconciliation report."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, choices=list(READERS))
        parser.add_argument("--source-dir", help="The directory of the Zendesk export (docs/migration.md).")
        parser.add_argument(
            "--source-url",
            help="The django-helpdesk database, read-only: postgres://user@host:port/name or sqlite:////path/db.sqlite3.",
        )
        parser.add_argument("--media-root", help="django-helpdesk's MEDIA_ROOT, where its attachments' files are.")
        parser.add_argument("--dry-run", action="store_true", help="Map and count everything; write nothing.")
        parser.add_argument("--since", help="Only tickets updated on or after this day (YYYY-MM-DD) or instant.")
        parser.add_argument("--mapping", help="The mapping file (YAML or TOML); defaults apply without one.")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"Tickets (or people) per transaction ({BATCH_SIZE})."
        )

    def handle(
        self,
        *args,
        source,
        source_dir=None,
        source_url=None,
        media_root=None,
        dry_run=False,
        since=None,
        mapping=None,
        batch_size=BATCH_SIZE,
        **options,
    ):
        address = self._address(source, source_dir, source_url, media_root)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        since_at = self._since(since)
        try:
            rules = load_mapping(Path(mapping) if mapping else None)
            export = read_source(source, address, since=since_at)
            run, resumed = start_import(export, rules, dry_run=dry_run, since=since_at)
        except (SourceError, MappingError) as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if resumed:
            self.stdout.write(
                f"Resuming {run} after batch {run.batches_done} ({run.processed} of {run.total} objects)."
            )
        try:
            run = execute_import(run, export, rules, batch_size=batch_size, progress=self._progress)
        except Exception as error:
            raise CommandError(
                f"{run} stopped: {type(error).__name__}: {error}. Run the same command to resume."
            ) from error
        self.stdout.write("")
        for line in report.lines(run):
            self.stdout.write(line)
        if run.state != ImportRun.State.DONE:
            raise CommandError(f"{run} is incomplete: {run.error}.")
        done = "Dry run: nothing was written." if run.dry_run else "Every source object is accounted for."
        self.stdout.write(self.style.SUCCESS(f"{run} done. {done}"))

    def _progress(self, run: ImportRun) -> None:
        done = run.progress_percent()
        bar = "#" * (done // 5) + "." * (20 - done // 5)
        self.stdout.write(f"[{bar}] {done:3}%  {run.processed}/{run.total} objects  ({run})")

    def _address(self, source: str, source_dir: str | None, source_url: str | None, media_root: str | None) -> str:
        """Return the source's address for its reader: the export's directory, or the database URL."""
        if source == ImportRun.Source.HELPDESK:
            if not source_url:
                raise CommandError("--from helpdesk needs --source-url URL, the django-helpdesk database.")
            return source_address(source_url, media_root)
        if not source_dir:
            raise CommandError("--from zendesk needs --source-dir DIR, the directory of the export.")
        return source_dir

    def _since(self, raw: str | None) -> dt.datetime | None:
        if raw is None:
            return None
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise CommandError(f"--since must be a date as YYYY-MM-DD (or an ISO 8601 instant), got {raw!r}.") from None
        return moment if moment.tzinfo else timezone.make_aware(moment, dt.UTC)
