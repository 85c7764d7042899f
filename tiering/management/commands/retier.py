import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from tiering.models import Ladder, RetierRun
from tiering.retier import execute_run, start_run


class Command(BaseCommand):
    help = (
        "Re-tier every partner in every ladder (or one) as of a day: upgrades apply at once, drops are "
        "grandfathered for a quarter. With --dry-run nothing changes: the run only reports what would move."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Compute and report; change no standing.")
        parser.add_argument("--ladder", help="Only this ladder: its motion's slug (resale) or its name.")
        parser.add_argument("--as-of", help="Evaluate on this day, YYYY-MM-DD (default: today).")

    def handle(self, *args, dry_run=False, ladder=None, as_of=None, **options):
        as_of_day = self._day(as_of)
        chosen = self._ladder(ladder) if ladder else None
        kind = RetierRun.Kind.DRY_RUN if dry_run else RetierRun.Kind.APPLY
        try:
            run = start_run(kind=kind, as_of=as_of_day, by=None, ladder=chosen)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        try:
            run = execute_run(run)
        except Exception as error:
            raise CommandError(f"Run #{run.pk} failed: {error}") from error
        self._report(run)

    def _day(self, raw: str | None) -> dt.date:
        if raw is None:
            return timezone.localdate()
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise CommandError(f"--as-of must be a date as YYYY-MM-DD, got {raw!r}.") from None

    def _ladder(self, raw: str) -> Ladder:
        ladder = Ladder.objects.filter(Q(motion__slug__iexact=raw) | Q(name__iexact=raw)).first()
        if ladder is None:
            names = ", ".join(Ladder.objects.values_list("motion__slug", flat=True)) or "none yet"
            raise CommandError(f"No ladder {raw!r}; the ladders are: {names}.")
        return ladder

    def _report(self, run: RetierRun) -> None:
        what = "Dry run" if run.is_dry_run else "Re-tier"
        self.stdout.write(f"{what} #{run.pk} as of {run.as_of}: {run.total} partner × ladder evaluated.")
        if not run.summary:
            self.stdout.write("No ladder has criteria in force on that day: nothing to evaluate.")
        for ladder_summary in run.summary.values():
            moves = ", ".join(f"{move} {count}" for move, count in sorted(ladder_summary["moves"].items())) or "nobody"
            self.stdout.write(
                f"  {ladder_summary['ladder']} ({ladder_summary['policy']}): {moves}; top-tier share "
                f"{ladder_summary['top_share_before']:.1%} before, {ladder_summary['top_share_after']:.1%} computed."
            )
        self.stdout.write(self.style.SUCCESS("Nothing was changed." if run.is_dry_run else "Applied."))
