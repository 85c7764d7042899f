from django.urls import path

from . import views

urlpatterns = [
    path("tiers/", views.my_tiers, name="my_tiers"),
    path("tiers/accounts/", views.account_claims, name="account_claims"),
    path("tiers/accounts/<int:pk>/engagement/", views.log_engagement, name="log_engagement"),
    path("tiers/accounts/<int:pk>/withdraw/", views.withdraw_claim, name="withdraw_claim"),
    path("program/", views.program, name="program"),
    path("notices/", views.notices, name="notices"),
    path("notices/mail/", views.notice_preferences, name="notice_preferences"),
]
