from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"

    def ready(self):
        # Tiering's pages list each tier's support plan without knowing support: support tells them.
        from tiering.entitlements import register_source

        from .entitlement import plan_entitlements

        register_source(plan_entitlements)
