from django.db import migrations

from sites.roles import grant_role_permissions


def grant_outbox_view(apps, schema_editor):
    # Admins see the outbox (what is on its way, sent, failed); nobody else but superusers.
    grant_role_permissions(apps, {"Admins": ["outbox.view_outboxmessage"]})


class Migration(migrations.Migration):
    dependencies = [("outbox", "0001_initial"), ("sites", "0002_roles")]

    operations = [migrations.RunPython(grant_outbox_view, migrations.RunPython.noop)]
