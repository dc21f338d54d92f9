from django.db import migrations

from sites.roles import grant_role_permissions


def grant_api_admin(apps, schema_editor):
    # Admins make and revoke API credentials and webhook endpoints, and see hand-outs and
    # deliveries; nobody else (superusers aside) sees them.
    grant_role_permissions(
        apps,
        {
            "Admins": [
                "api.view_apicredential",
                "api.add_apicredential",
                "api.change_apicredential",
                "api.view_handout",
                "api.view_webhookendpoint",
                "api.add_webhookendpoint",
                "api.change_webhookendpoint",
                "api.view_webhookdelivery",
                "api.change_webhookdelivery",
            ]
        },
    )


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial"), ("sites", "0002_roles")]

    operations = [migrations.RunPython(grant_api_admin, migrations.RunPython.noop)]
