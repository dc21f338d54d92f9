from django.db import migrations

from sites.roles import grant_role_permissions


def grant_connection_test_permissions(apps, schema_editor):
    grant_role_permissions(
        apps,
        {
            "Admins": ["xero.view_connectiontest", "xero.run_connection_test"],
            "Support": ["xero.view_connectiontest", "xero.run_connection_test"],
            "Staff": ["xero.view_connectiontest"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("xero", "0003_connection_tests")]

    operations = [
        migrations.RunPython(grant_connection_test_permissions, migrations.RunPython.noop)
    ]
