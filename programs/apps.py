from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = "Partners and people"

    def ready(self):
        from .roles import sync_staff_groups

        post_migrate.connect(sync_staff_groups, dispatch_uid="programs.sync_staff_groups")
