from django.db import migrations, models

INVITATION_SUBJECT_END = "Resolved: how did we do?"


def mark_invitations(apps, schema_editor):
    """Invitations queued before the kind existed are invitations too: a ticket is invited once."""
    Notification = apps.get_model("support", "Notification")
    Notification.objects.filter(subject__endswith=INVITATION_SUBJECT_END).update(kind="csat_invitation")


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0012_imports"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                blank=True,
                choices=[("", "Message"), ("csat_invitation", "Rating invitation")],
                db_default="",
                default="",
                max_length=20,
            ),
        ),
        migrations.RunPython(mark_invitations, migrations.RunPython.noop),
    ]
