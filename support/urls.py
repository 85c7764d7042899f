from django.urls import path

from . import views

urlpatterns = [
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:pk>/comment/", views.ticket_comment, name="ticket_comment"),
    path("tickets/<int:pk>/actions/<slug:action>/", views.ticket_action, name="ticket_action"),
    path("tickets/<int:pk>/severity/", views.ticket_severity, name="ticket_severity"),
    path("tickets/<int:pk>/assign-to-me/", views.ticket_assign_to_me, name="ticket_assign_to_me"),
    path("tickets/<int:pk>/attachments/<int:attachment_pk>/", views.attachment_download, name="attachment_download"),
    path("tickets/<int:pk>/escalate/", views.ticket_escalate, name="ticket_escalate"),
    path("tickets/<int:pk>/request-escalation/", views.ticket_request_escalation, name="ticket_request_escalation"),
    path("queue/", views.queue, name="queue"),
    path("oncall/", views.oncall, name="oncall"),
]
