from django.db import migrations

from sites.roles import grant_role_permissions


def create_roles(apps, schema_editor):
    grant_role_permissions(
        apps,
        {
            "Staff": ["sites.view_site", "sites.change_site", "sites.view_api_secret_mask"],
            "Admins": [
                "sites.view_site",
                "sites.add_site",
                "sites.change_site",
                "sites.delete_site",
                "sites.view_api_secret_mask",
            ],
            "Support": ["sites.view_site"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
