from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from programs import views as programs_views
from programs.forms import EmailAuthenticationForm

from . import views

admin.site.site_header = "Partner Portal administration"
admin.site.site_title = "Partner Portal admin"
admin.site.index_title = "Program and support back office"

accounts = [
    path("login/", auth_views.LoginView.as_view(form_class=EmailAuthenticationForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("two-factor/", programs_views.two_factor, name="two_factor"),
    path("two-factor/setup/", programs_views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", programs_views.two_factor_verify, name="two_factor_verify"),
    path("two-factor/recovery-codes/", programs_views.two_factor_recovery_codes, name="two_factor_recovery_codes"),
    path("two-factor/disable/", programs_views.two_factor_disable, name="two_factor_disable"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("ping", views.ping, name="ping"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include(accounts)),
    path("admin/", admin.site.urls),
    path("api/", include(("partnerportal.api_urls", "api"))),
    path("", include("support.urls")),
    path("", include("tiering.urls")),
    path("", include("programs.urls")),
]

handler500 = "partnerportal.views.server_error"
