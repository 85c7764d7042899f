from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "partnerportal"
    label = "portal"
    verbose_name = "Portal operations"

    def ready(self) -> None:
        from .audit import plan_audit_joins_for_any_size

        post_migrate.connect(plan_audit_joins_for_any_size, sender=self)
