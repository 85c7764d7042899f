"""The REST API's routes: /api/v1/…, the OpenAPI schema and the interactive docs (assets served locally)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from programs import api as programs_api
from programs.webhooks import api as webhooks_api
from support.api import views as support_api
from tiering import api as tiering_api

from .api import not_found

router = SimpleRouter()
router.register("tickets", support_api.TicketViewSet, basename="ticket")
router.register("kb/articles", support_api.ArticleViewSet, basename="article")
router.register("webhooks", webhooks_api.WebhookEndpointViewSet, basename="webhook")

v1 = [
    path("me/", programs_api.MeView.as_view(), name="me"),
    path("partner/", programs_api.MyPartnerView.as_view(), name="partner"),
    path("partner/members/", programs_api.MemberList.as_view(), name="members"),
    path("standings/", tiering_api.StandingList.as_view(), name="standings"),
    path("support-plan/", support_api.MySupportView.as_view(), name="support_plan"),
    path("kb/search/", support_api.ArticleSearch.as_view(), name="kb_search"),
    path("kb/suggest/", support_api.ArticleSuggest.as_view(), name="kb_suggest"),
    path("tickets/<int:pk>/events/", support_api.TicketEventList.as_view(), name="ticket-events"),
    path("queue/", support_api.QueueView.as_view(), name="queue"),
    path("oncall/", support_api.OnCallView.as_view(), name="oncall"),
    path("scoreboard/", support_api.ScoreboardView.as_view(), name="scoreboard"),
    path("retier-runs/", tiering_api.RetierRunList.as_view(), name="retier_runs"),
    path("retier-runs/<int:pk>/", tiering_api.RetierRunDetail.as_view(), name="retier_run"),
    path("retier-runs/<int:pk>/results/", tiering_api.RetierResultList.as_view(), name="retier_results"),
    *router.urls,
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script (Content-Security-Policy).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^[\s\S]*$", not_found, name="not_found"),  # any path, line breaks included
]
