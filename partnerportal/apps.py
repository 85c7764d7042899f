from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "partnerportal"
    label = "portal"
    verbose_name = "Portal operations"
