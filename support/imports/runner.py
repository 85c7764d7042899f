"""Import runs: check the source against the mapping, then write it in batches, resumably, and reconcile.

Every batch is one transaction holding its objects, their identities, its report lines and the
run's counts and position: a run killed (even with kill -9) loses only its open batch, and the
next run of the same source and mapping picks up after the last committed one. Objects already
imported are found by their identity (source system, type, id) and compared by fingerprint:
unchanged ones are not written, changed ones are updated, new ones created — never duplicated.
A dry run does the same inside one transaction that is rolled back: exact counts, nothing kept
but the run and its report.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from partnerportal.audit import audit_context
from partnerportal.bulk import analyze
from programs.models import User
from support.models import ImportFinding, ImportRun, SourceIdentity

from . import records as r
from . import report
from .mapping import Mapping
from .sources import read_source
from .writers import Writer

log = logging.getLogger(__name__)
BATCH_SIZE = 1000  # tickets (or people) per transaction: a kill loses at most one batch
# A run still marked running that has not committed a batch for this long was cut off.
RUN_STALE_AFTER = timedelta(minutes=10)
Progress = Callable[[ImportRun], None]


class _DryRunDone(Exception):
    """Raised at the end of a dry run to roll back everything it wrote."""


def preflight(source: r.SourceExport, mapping: Mapping) -> None:
    """Refuse a source the mapping cannot take, before anything is written: one line says what and where."""
    problems: list[str] = []
    for ticket in source.tickets:
        if mapping.skips(ticket.status):
            continue
        if mapping.severity(ticket.priority) is None:
            problems.append(
                f"ticket {ticket.source_id}: priority “{ticket.priority}” is not in the mapping's priorities "
                "(add it, or set unknown_priority)"
            )
        for status in [ticket.status, *(change.new for change in ticket.status_changes)]:
            if mapping.status(status) is None:
                problems.append(
                    f"ticket {ticket.source_id}: status “{status}” is not in the mapping's statuses "
                    "(add it, or set unknown_status)"
                )
                break
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise r.SourceError(problems[0] + more + ".")


def batches(source: r.SourceExport, size: int = BATCH_SIZE) -> list[tuple[str, list[Any]]]:
    """Return the run's batches in order, the same for the same source (so a resumed run continues)."""
    planned: list[tuple[str, list[Any]]] = []
    for object_type, items in (
        (r.ORGANIZATION, source.organizations),
        (r.USER, source.people),
        (r.GROUP, source.groups),
        (r.TICKET_FIELD, source.ticket_fields),
        (r.TICKET, source.tickets),
        (r.COMMENT, source.orphan_comments),
    ):
        planned += [(object_type, list(items[i : i + size])) for i in range(0, len(items), size)]
    return planned


def start_import(
    source: r.SourceExport,
    mapping: Mapping,
    *,
    dry_run: bool,
    since: datetime | None = None,
    by: User | None = None,
    now: datetime | None = None,
) -> tuple[ImportRun, bool]:
    """Return the run for this source: an unfinished one resumed, or a new one; and whether it is resumed.

    Refuses a source while another process is importing it. A dry run is always new: it writes nothing to resume.
    """
    now = now or timezone.now()
    preflight(source, mapping)
    same_source = ImportRun.objects.filter(
        source_system=source.system,
        source_description=source.description,
        dry_run=False,
        state__in=[ImportRun.State.RUNNING, ImportRun.State.FAILED],
    )
    for earlier in same_source.order_by("-started_at") if not dry_run else ():
        if earlier.state == ImportRun.State.RUNNING and not earlier.is_stale(now, RUN_STALE_AFTER):
            raise ValidationError(
                f"{earlier} of this source is still running (last batch at {earlier.heartbeat_at:%H:%M:%S}); "
                "wait for it to finish."
            )
        resumable = earlier.source_fingerprint == source.fingerprint and earlier.mapping == mapping.values
        if resumable and earlier.since == since:
            ImportRun.objects.filter(pk=earlier.pk).update(state=ImportRun.State.RUNNING, heartbeat_at=now, error="")
            earlier.refresh_from_db()
            return earlier, True
        if earlier.state == ImportRun.State.RUNNING:  # cut off, and not resumable with this source or mapping
            ImportRun.objects.filter(pk=earlier.pk).update(
                state=ImportRun.State.FAILED, error="Cut off: no batch committed for a long time.", finished_at=now
            )
    try:
        with transaction.atomic():
            return _new_run(source, mapping, dry_run=dry_run, since=since, by=by, now=now), False
    except IntegrityError:
        raise ValidationError("Another import of this source has just started; wait for it to finish.") from None


def _new_run(
    source: r.SourceExport, mapping: Mapping, *, dry_run: bool, since: datetime | None, by: User | None, now: datetime
) -> ImportRun:
    counts = source.counts()
    return ImportRun.objects.create(
        source_system=source.system,
        source_description=source.description[:500],
        source_fingerprint=source.fingerprint,
        dry_run=dry_run,
        since=since,
        mapping=mapping.values,
        total=sum(counts.values()),
        counts={object_type: {"source": n} for object_type, n in counts.items()},
        created_by=by,
        started_at=now,
        heartbeat_at=now,
    )


def execute_import(
    run: ImportRun,
    source: r.SourceExport,
    mapping: Mapping,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportRun:
    """Write the source in batches (from where the run stopped), then reconcile; return the finished run."""
    writer = Writer(run, source, mapping, dry_run=run.dry_run)
    planned = batches(source, batch_size)
    if run.dry_run:
        _dry_run(run, writer, planned, progress)
    else:
        resumed_at = run.batches_done
        for index, (object_type, items) in enumerate(planned):
            if index >= resumed_at:
                if _doubled(index - resumed_at):
                    # The identities looked up by each batch have doubled since the planner last counted.
                    analyze(SourceIdentity)
                _real_batch(run, writer, index, object_type, items)
                if progress:
                    progress(run)
    return _reconcile(run)


def _doubled(done: int) -> bool:
    """Return True before the first batch of a run and after 1, 2, 4, 8, … batches: when what it wrote doubled."""
    return done & (done - 1) == 0


def _process(writer: Writer, object_type: str, items: list[Any]) -> report.Tally:
    tally = report.Tally()
    writer.begin_batch()
    # The audit trail names the run behind every row it writes (bulk writes included).
    with audit_context(action="import_tickets", import_run=writer.run.pk, actor=writer.run.created_by_id):
        _write(writer, object_type, items, tally)
        writer.end_batch()
    return tally


def _write(writer: Writer, object_type: str, items: list[Any], tally: report.Tally) -> None:
    write: dict[str, Callable[[Any, report.Tally], None]] = {
        r.ORGANIZATION: writer.organizations_batch,
        r.USER: writer.people_batch,
        r.GROUP: writer.groups_batch,
        r.TICKET_FIELD: writer.ticket_fields_batch,
        r.TICKET: writer.tickets_batch,
        r.COMMENT: writer.orphans_batch,
    }
    write[object_type](items, tally)


def _real_batch(run: ImportRun, writer: Writer, index: int, object_type: str, items: list[Any]) -> None:
    try:
        with transaction.atomic():
            tally = _process(writer, object_type, items)
            _commit_tally(run, tally, batches_done=index + 1)
    except BaseException as error:
        # The batch rolled back: its files go too. The run stays resumable from the batch before.
        writer.discard_stored_files()
        # A process that dies without a word (SIGKILL) cannot say so: its run is found stale later.
        if isinstance(error, Exception | KeyboardInterrupt):
            log.exception("Import %s failed in batch %s", run.pk, index + 1)
            ImportRun.objects.filter(pk=run.pk).update(
                state=ImportRun.State.FAILED,
                error=f"Batch {index + 1} ({object_type}): {type(error).__name__}: {error}",
            )
        raise


def _commit_tally(run: ImportRun, tally: report.Tally, *, batches_done: int) -> None:
    for finding in tally.findings:
        finding.run = run
    ImportFinding.objects.bulk_create(tally.findings)
    run.counts = report.merged_counts(run.counts, tally)
    run.processed += tally.objects
    run.batches_done = batches_done
    run.heartbeat_at = timezone.now()
    run.save(update_fields=["counts", "processed", "batches_done", "heartbeat_at"])


def _dry_run(run: ImportRun, writer: Writer, planned: list[tuple[str, list[Any]]], progress: Progress | None) -> None:
    tallies: list[report.Tally] = []
    try:
        with transaction.atomic():
            for index, (object_type, items) in enumerate(planned):
                if _doubled(index):
                    analyze(SourceIdentity)
                with transaction.atomic():
                    tallies.append(_process(writer, object_type, items))
            raise _DryRunDone
    except _DryRunDone:
        pass
    for n, tally in enumerate(tallies, start=1):
        _commit_tally(run, tally, batches_done=n)
    if progress:
        progress(run)


def _reconcile(run: ImportRun) -> ImportRun:
    """Finish the run: done when every source object is accounted for and none failed, else incomplete."""
    run.refresh_from_db()
    missing, failures = report.unaccounted(run), report.failed(run)
    problems = []
    if missing:
        problems.append(f"{missing} source object(s) unaccounted for")
    if failures:
        problems.append(f"{failures} object(s) failed (listed in the report)")
    run.state = ImportRun.State.INCOMPLETE if problems else ImportRun.State.DONE
    run.error = "; ".join(problems)
    run.finished_at = timezone.now()
    run.save(update_fields=["state", "error", "finished_at"])
    return run


def execute_import_run(run: ImportRun, *, progress: Progress | None = None) -> ImportRun:
    """Read the run's source again and execute the run: how a worker runs (or resumes) one started elsewhere.

    A source that changed since the run started is not imported under the old run: it fails, saying so.
    """
    try:
        source = read_source(run.source_system, run.source_description, since=run.since)
    except r.SourceError as error:
        return _fail(run, str(error))
    if source.fingerprint != run.source_fingerprint:
        return _fail(run, "The source changed after the run started: start a new run to import it as it is now.")
    return execute_import(run, source, Mapping(run.mapping), progress=progress)


def _fail(run: ImportRun, message: str) -> ImportRun:
    ImportRun.objects.filter(pk=run.pk).update(state=ImportRun.State.FAILED, error=message, finished_at=timezone.now())
    run.refresh_from_db()
    return run
