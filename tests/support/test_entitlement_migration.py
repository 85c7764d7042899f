"""The tier → support plan link moved from tiering's column to support's table: no link is lost."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("support", "0009_audit_configuration"), ("tiering", "0003_benefit_offsetting_rule_message")]
AFTER = [("support", "0010_tier_support_plan"), ("tiering", "0004_tier_support_plan_moves_to_support")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_every_tiers_support_plan_survives_the_move_to_support():
    old = migrate(BEFORE)
    calendar = old.get_model("support", "BusinessCalendar").objects.create(
        name="24/7", time_zone="UTC", always_open=True
    )
    plan = old.get_model("support", "SupportPlan").objects.create(name="Premier", calendar=calendar)
    motion = old.get_model("programs", "Motion").objects.create(name="Resale", slug="resale")
    ladder = old.get_model("tiering", "Ladder").objects.create(motion=motion, name="Resale partners")
    tier_model = old.get_model("tiering", "Tier")
    with_plan = tier_model.objects.create(ladder=ladder, name="Strategic", rank=2, support_plan=plan)
    tier_model.objects.create(ladder=ladder, name="Registered", rank=1)
    try:
        new = migrate(AFTER)
        links = new.get_model("support", "TierSupportPlan").objects.values_list("tier_id", "plan_id")
        assert list(links) == [(with_plan.pk, plan.pk)]
    finally:
        migrate([("support", leaf) for leaf in _leaves("support")] + [("tiering", leaf) for leaf in _leaves("tiering")])


def _leaves(app):
    executor = MigrationExecutor(connection)
    return [name for label, name in executor.loader.graph.leaf_nodes() if label == app]
