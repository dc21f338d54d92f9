from django.db import migrations

from sites import audit_triggers


def install_triggers(apps, schema_editor):
    audit_triggers.install(schema_editor.connection)


def uninstall_triggers(apps, schema_editor):
    audit_triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0003_audit_trail"),
    ]

    operations = [migrations.RunPython(install_triggers, uninstall_triggers)]
