from django.urls import path

from . import views
from .webhooks import views as webhook_views

urlpatterns = [
    path("", views.home, name="home"),
    path("members/invite/", views.invite_member, name="invite_member"),
    path("members/<int:pk>/remove/", views.remove_member, name="remove_member"),
    path("invitations/<int:pk>/revoke/", views.revoke_invitation, name="revoke_invitation"),
    path("account/api-tokens/", views.api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", views.revoke_api_token, name="revoke_api_token"),
    path("webhooks/", webhook_views.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/test/", webhook_views.webhook_test, name="webhook_test"),
    path("webhooks/<int:pk>/rotate/", webhook_views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/toggle/", webhook_views.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<int:pk>/remove/", webhook_views.webhook_remove, name="webhook_remove"),
    path("webhooks/<int:pk>/deliveries/<int:delivery_pk>/", webhook_views.webhook_delivery, name="webhook_delivery"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/replay/",
        webhook_views.webhook_replay,
        name="webhook_replay",
    ),
    path("invitations/accept/<str:token>/", views.accept_invitation, name="accept_invitation"),
]
