from django.db import migrations

from sites.roles import grant_role_permissions


def grant_certificate_permissions(apps, schema_editor):
    grant_role_permissions(
        apps,
        {
            "Admins": [
                "xero.view_certificate",
                "xero.issue_certificate",
                "xero.download_certificate",
            ],
            "Staff": ["xero.view_certificate"],
            "Support": ["xero.view_certificate"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("xero", "0001_certificates"),
        ("sites", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_certificate_permissions, migrations.RunPython.noop)]
