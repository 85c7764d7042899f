import django_tables2 as tables
from django.db.models import F
from django.utils import timezone
from django.utils.html import format_html

from partnerportal.exports import spreadsheet_safe
from support.models import Ticket


class PartialColumn(tables.TemplateColumn):
    """A column rendered by a template partial from the page's own context.

    django-tables2 renders each cell with the request, so every cell runs every context processor
    again (the navigation, the CSRF token…): 50 rows cost a quarter of the queue page. The page's
    context already holds all of that; the partial gets it flattened, with the row on top.
    """

    def render(self, record, table, value, bound_column, **kwargs):
        from django.template import Context
        from django.template.loader import get_template

        parent = getattr(table, "context", Context())
        extra = self.get_context_data(record=record, table=table, value=value, bound_column=bound_column, **kwargs)
        with parent.update(extra):
            return get_template(self.template_name).render(parent.flatten())


# The queue's export formats: whether each is read by spreadsheets (formulas neutralised) or is data.
EXPORT_FORMATS = {"csv": True, "tsv": True, "json": False, "yaml": False}


class QueueTable(tables.Table):
    id = tables.Column(verbose_name="#", linkify=lambda record: record.get_absolute_url())
    severity = tables.Column()
    title = tables.Column(linkify=lambda record: record.get_absolute_url(), attrs={"td": {"class": "title"}})
    partner = tables.Column(accessor="partner__name", verbose_name="Partner")
    status = tables.Column()
    assignee = tables.Column(accessor="assignee__email", default="—", verbose_name="Assignee")
    escalation_level = tables.Column(verbose_name="Level")
    sla = tables.Column(empty_values=(), orderable=False, verbose_name="SLA")
    next_due_at = tables.DateTimeColumn(verbose_name="Next due", format="Y-m-d H:i e")
    received_at = tables.DateTimeColumn(verbose_name="Received", format="Y-m-d H:i")
    actions = PartialColumn(
        template_name="support/_partials/queue_actions.html", orderable=False, verbose_name="", exclude_from_export=True
    )

    class Meta:
        model = Ticket
        fields = [
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
        template_name = "support/_partials/table.html"
        attrs = {"class": "table queue"}
        row_attrs = {"data-sla": lambda record: record.sla_state(timezone.now())}

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

    def render_severity(self, value, record):
        return format_html('<span class="sev sev-{}">{}</span>', value, value)

    def render_escalation_level(self, value):
        return f"L{value}" if value else "—"

    def render_sla(self, record):
        state = record.sla_state(timezone.now())
        return format_html('<span class="sla sla-{}">{}</span>', state, SLA_LABELS[state])

    def value_sla(self, record):
        return record.sla_state(timezone.now())

    def order_next_due_at(self, queryset, is_descending):
        # Paused tickets have no running deadline: they come last either way.
        due = F("next_due_at").desc(nulls_last=True) if is_descending else F("next_due_at").asc(nulls_last=True)
        return queryset.order_by(due, "id"), True

    def render_next_due_at(self, value):
        if value is None:
            return "—"
        return format_html(
            '<time class="countdown" datetime="{}">{}</time>', value.isoformat(), value.strftime("%Y-%m-%d %H:%M UTC")
        )


SLA_LABELS = {"ok": "On track", "warning": "Warning", "breached": "Breached", "paused": "Paused", "met": "Met"}
