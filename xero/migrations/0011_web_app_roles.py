from django.db import migrations

from sites.roles import grant_role_permissions


def grant_web_app_permissions(apps, schema_editor):
    # Customers will connect too once they have accounts (a later issue).
    grant_role_permissions(
        apps,
        {
            "Admins": ["xero.connect_xero", "xero.disconnect_xero"],
            "Staff": ["xero.connect_xero"],
            "Support": ["xero.connect_xero"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("xero", "0010_token_sets")]

    operations = [migrations.RunPython(grant_web_app_permissions, migrations.RunPython.noop)]
