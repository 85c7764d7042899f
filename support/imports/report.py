"""The reconciliation report: per object type, what became of every source object, and whether it adds up."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from support.models import ImportFinding, ImportRun

from .records import OBJECT_TYPES

OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")
HEADER = ["object type", "source", *OUTCOMES, "unaccounted"]
FINDINGS_HEADER = ["kind", "object type", "source id", "reason"]


@dataclass
class Tally:
    """What one batch did: counts per object type and outcome, and its report lines."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    findings: list[ImportFinding] = field(default_factory=list)

    def count(self, object_type: str, outcome: str, source_id: str = "", reason: str = "") -> None:
        """Count one source object's outcome; a skip or a failure is listed with its reason."""
        assert outcome in OUTCOMES, outcome
        row = self.counts.setdefault(object_type, {})
        row[outcome] = row.get(outcome, 0) + 1
        if outcome in ("skipped", "failed"):
            self.note(ImportFinding.Kind(outcome), object_type, source_id, reason)

    def note(self, kind: str, object_type: str, source_id: str, reason: str) -> None:
        self.findings.append(
            ImportFinding(kind=kind, object_type=object_type, source_id=source_id, reason=reason[:500])
        )

    def add(self, other: "Tally") -> None:
        """Count what `other` counted here too (a part of the batch written on its own)."""
        for object_type, row in other.counts.items():
            mine = self.counts.setdefault(object_type, {})
            for outcome, n in row.items():
                mine[outcome] = mine.get(outcome, 0) + n
        self.findings += other.findings

    @property
    def objects(self) -> int:
        return sum(sum(row.values()) for row in self.counts.values())


def merged_counts(run_counts: dict[str, dict[str, int]], tally: Tally) -> dict[str, dict[str, int]]:
    """Return the run's counts with a batch's added (the source counts are set when the run starts)."""
    merged = {object_type: dict(row) for object_type, row in run_counts.items()}
    for object_type, row in tally.counts.items():
        target = merged.setdefault(object_type, {"source": 0})
        for outcome, n in row.items():
            target[outcome] = target.get(outcome, 0) + n
    return merged


def rows(run: ImportRun) -> list[list[str | int]]:
    """Return the report's table: per object type the source count, each outcome and what is unaccounted for."""
    table: list[list[str | int]] = []
    for object_type in OBJECT_TYPES:
        row = run.counts.get(object_type, {"source": 0})
        outcomes = [row.get(outcome, 0) for outcome in OUTCOMES]
        table.append([object_type, row.get("source", 0), *outcomes, row.get("source", 0) - sum(outcomes)])
    totals = [sum(int(row[i]) for row in table) for i in range(1, len(HEADER))]
    return [*table, ["total", *totals]]


def unaccounted(run: ImportRun) -> int:
    """Return how many source objects no outcome accounts for (the run is then not a success)."""
    return sum(abs(int(row[-1])) for row in rows(run)[:-1])


def failed(run: ImportRun) -> int:
    return sum(row.get("failed", 0) for row in run.counts.values())


def lines(run: ImportRun) -> Iterator[str]:
    """Yield the report as text: the table, then each skip, failure and stand-in with its reason."""
    table = rows(run)
    width = max(len(str(row[0])) for row in table)
    yield f"{'':{width}}  " + "  ".join(f"{name:>10}" for name in HEADER[1:])
    for row in table:
        yield f"{row[0]:{width}}  " + "  ".join(f"{cell:>10}" for cell in row[1:])
    for finding in run.findings.order_by("pk"):
        yield f"{finding.get_kind_display()}: {finding.object_type} {finding.source_id}: {finding.reason}"


def finding_rows(run: ImportRun) -> Iterator[list[str]]:
    for finding in run.findings.order_by("pk").iterator():
        yield [finding.get_kind_display(), finding.object_type, finding.source_id, finding.reason]
