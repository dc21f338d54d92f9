import django.db.models
from django.db import migrations

import sites.validators


def clean_names(apps, schema_editor):
    """Names saved before they were validated lose their control and format characters."""
    Site = apps.get_model("sites", "Site")
    for site in list(Site.objects.only("pk", "name", "code")):
        cleaned = sites.validators.clean_display_name(site.name) or site.code
        if cleaned != site.name:
            Site.objects.filter(pk=site.pk).update(name=cleaned)


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0006_web_app_connection_type"),
    ]

    operations = [
        migrations.AlterField(
            model_name="site",
            name="name",
            field=django.db.models.CharField(
                max_length=200, validators=[sites.validators.validate_display_name]
            ),
        ),
        migrations.RunPython(clean_names, migrations.RunPython.noop),
    ]
