"""The peer's URLs: the admin and django-helpdesk at the site's root, as its install docs show."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
