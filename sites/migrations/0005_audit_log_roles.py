from django.db import migrations

from sites.roles import grant_role_permissions


def grant_audit_log(apps, schema_editor):
    # Staff see the timelines of the Sites they can see (sites.view_site), not the log
    # of every Site.
    grant_role_permissions(
        apps, {"Admins": ["sites.view_audit_log"], "Support": ["sites.view_audit_log"]}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0004_audit_append_only"),
    ]

    operations = [migrations.RunPython(grant_audit_log, migrations.RunPython.noop)]
