from django.db import migrations

from sites.roles import grant_role_permissions


def create_roles(apps, schema_editor):
    grant_role_permissions(
        apps,
        {
            # No model permission: customers reach their own Sites through memberships.
            "Customers": ["customers.own_sites_only"],
            "Staff": ["customers.invite_customer"],
            "Admins": ["customers.invite_customer"],
            "Support": ["customers.invite_customer"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("sites", "0002_roles"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
