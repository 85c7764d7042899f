from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("members/invite/", views.invite_member, name="invite_member"),
    path("members/<int:pk>/remove/", views.remove_member, name="remove_member"),
    path("invitations/<int:pk>/revoke/", views.revoke_invitation, name="revoke_invitation"),
    path("account/api-tokens/", views.api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", views.revoke_api_token, name="revoke_api_token"),
    path("invitations/accept/<str:token>/", views.accept_invitation, name="accept_invitation"),
]
