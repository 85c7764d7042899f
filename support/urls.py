from django.urls import path

from support.pages import knowledge as kb_views
from support.pages import reports as report_views
from support.pages import tickets as views

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
    path("tickets/<int:pk>/rate/", views.ticket_rate, name="ticket_rate"),
    path("csat/<str:token>/", kb_views.csat_link, name="csat_link"),
    path("kb/", kb_views.kb_index, name="kb_index"),
    path("kb/suggest/", kb_views.kb_suggest, name="kb_suggest"),
    path("kb/<slug:slug>/", kb_views.kb_article, name="kb_article"),
    path("kb/<slug:slug>/solved/", kb_views.kb_solved, name="kb_solved"),
    path("scoreboard/", report_views.scoreboard, name="scoreboard"),
    path("scoreboard/tiers/", report_views.tier_report, name="tier_report"),
    path("scoreboard/review/<int:partner_pk>/", report_views.monthly_review, name="monthly_review"),
    path("scoreboard/review/<int:partner_pk>/actions/", report_views.add_action_item, name="add_action_item"),
    path("scoreboard/actions/<int:pk>/close/", report_views.close_action_item, name="close_action_item"),
    path("queue/", views.queue, name="queue"),
    path("queue/bulk/", views.queue_bulk, name="queue_bulk"),
    path("oncall/", views.oncall, name="oncall"),
]
