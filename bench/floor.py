"""The floor for the staff queue: a plain Django view that renders the same 50 rows.

No filters, no table library, no page layout: one query for the rows, one hand-written template,
behind the same middleware (session, sign-in, second factor, audit) as the portal's pages. The queue
benchmark times it beside `/queue/` in the same run; `install()` adds its URL to the portal's.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import clear_url_caches, path, set_urlconf
from django.utils import timezone

from partnerportal.urls import urlpatterns as portal_urlpatterns
from support.models import Ticket

FLOOR_URL = "/bench/floor/queue/"

ROWS = engines["django"].from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Queue</title></head><body>
<table>
<thead><tr><th>#</th><th>Severity</th><th>Title</th><th>Partner</th><th>Status</th><th>Assignee</th>
<th>Level</th><th>SLA</th><th>Next due</th><th>Received</th><th></th></tr></thead>
<tbody>
{% for ticket, sla in rows %}<tr data-sla="{{ sla }}">
<td><a href="/tickets/{{ ticket.pk }}/">{{ ticket.pk }}</a></td>
<td>{{ ticket.get_severity_display }}</td>
<td><a href="/tickets/{{ ticket.pk }}/">{{ ticket.title }}</a></td>
<td>{{ ticket.partner.name }}</td>
<td>{{ ticket.get_status_display }}</td>
<td>{% if ticket.assignee %}{{ ticket.assignee.get_full_name }}{% endif %}</td>
<td>{{ ticket.escalation_level }}</td>
<td>{{ sla }}</td>
<td>{{ ticket.next_due_at|date:"Y-m-d H:i" }}</td>
<td>{{ ticket.received_at|date:"Y-m-d H:i" }}</td>
<td>{% if ticket.status == "received" %}<form method="post" action="/tickets/{{ ticket.pk }}/actions/acknowledge/">
{% csrf_token %}<button type="submit">Acknowledge</button></form>{% endif %}</td>
</tr>{% endfor %}
</tbody></table></body></html>"""
)


@login_required
def floor_queue(request):
    now = timezone.now()
    tickets = Ticket.objects.open().select_related("partner", "assignee").by_next_deadline()[:50]
    rows = [(ticket, ticket.sla_state(now)) for ticket in tickets]
    return HttpResponse(ROWS.render({"rows": rows}, request))


urlpatterns = [*portal_urlpatterns, path(FLOOR_URL.strip("/") + "/", floor_queue)]


def install_floor():
    """Serve the floor view beside the portal's URLs in this process."""
    from django.conf import settings

    settings.ROOT_URLCONF = __name__
    clear_url_caches()
    set_urlconf(None)
