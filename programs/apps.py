from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = "Partners and people"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .access import note_two_factor_requirement
        from .roles import sync_staff_groups

        post_migrate.connect(sync_staff_groups, dispatch_uid="programs.sync_staff_groups")
        user_logged_in.connect(note_two_factor_requirement, dispatch_uid="programs.two_factor_requirement")
