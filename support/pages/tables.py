import django_tables2 as tables
from django.utils import timezone

from partnerportal.exports import spreadsheet_safe
from support.models import Ticket

# The queue's export formats: whether each is read by spreadsheets (formulas neutralised) or is data.
EXPORT_FORMATS = {"csv": True, "tsv": True, "json": False, "yaml": False}


# What a queue row (and its export) reads: a page loads nothing else of the ticket and its partner.
ROW_FIELDS = [
    "id", "title", "severity", "status", "escalation_level", "next_due_at", "received_at",
    "first_response_at", "first_response_due", "first_response_warn_at",
    "resolved_at", "resolution_due", "resolution_warn_at", "update_warn_at",
    "partner__name", "assignee__full_name", "assignee__email",
]  # fmt: skip


class QueueTable(tables.Table):
    select = tables.Column(empty_values=(), orderable=False, verbose_name="Select", exclude_from_export=True)
    id = tables.Column(verbose_name="#")
    severity = tables.Column()
    title = tables.Column()
    partner = tables.Column(accessor="partner__name", verbose_name="Partner")
    status = tables.Column()
    assignee = tables.Column(accessor="assignee__email", default="—", verbose_name="Assignee")
    escalation_level = tables.Column(verbose_name="Level")
    sla = tables.Column(empty_values=(), orderable=False, verbose_name="SLA")
    next_due_at = tables.DateTimeColumn(verbose_name="Next due", format="Y-m-d H:i e")
    received_at = tables.DateTimeColumn(verbose_name="Received", format="Y-m-d H:i")
    actions = tables.Column(empty_values=(), orderable=False, verbose_name="", exclude_from_export=True)

    class Meta:
        model = Ticket
        fields = [
            "select",
            "id",
            "severity",
            "title",
            "partner",
            "status",
            "assignee",
            "escalation_level",
            "sla",
            "next_due_at",
            "received_at",
            "actions",
        ]
        order_by = ["next_due_at"]
        # The header, ordering and paging are django-tables2's; the rows are one template's.
        template_name = "support/_partials/queue_table.html"
        attrs = {"class": "table queue"}

    def __init__(self, *args, spreadsheet: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.spreadsheet = spreadsheet

    # Exports: plain values. In a spreadsheet (CSV, TSV) text a partner typed can never run as a
    # formula; JSON and YAML are data, and keep the text exactly as typed.
    def _typed(self, value):
        return spreadsheet_safe(value) if self.spreadsheet else value

    def value_title(self, value):
        return self._typed(value)

    def value_partner(self, value):
        return self._typed(value)

    def value_assignee(self, value):
        return self._typed(value)

    def value_severity(self, record):
        return record.severity

    def value_next_due_at(self, value):
        return value.isoformat() if value else ""

    def value_sla(self, record):
        return record.sla_state(timezone.now())

    def page_rows(self, now):
        """The page's tickets, each with its SLA state and that state's label: what a row shows."""
        rows = []
        for row in self.paginated_rows:
            state = row.record.sla_state(now)
            rows.append((row.record, state, SLA_LABELS[state]))
        return rows

    def order_next_due_at(self, queryset, is_descending):
        # Paused tickets have no running deadline: they come last either way.
        return queryset.by_next_deadline(descending=is_descending), True


SLA_LABELS = {"ok": "On track", "warning": "Warning", "breached": "Breached", "paused": "Paused", "met": "Met"}
