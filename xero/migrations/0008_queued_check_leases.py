from django.db import migrations, models


def chunk_is_batch(apps, schema_editor):
    # Rows queued before chunks existed: their task (xero.tasks.check_sites) was given the
    # batch, which it now reads as the chunk.
    QueuedCheck = apps.get_model("xero", "QueuedCheck")
    QueuedCheck.objects.update(chunk=models.F("batch"))


class Migration(migrations.Migration):
    dependencies = [
        ("xero", "0007_connection_test_outcomes"),
    ]

    operations = [
        migrations.AddField(
            model_name="queuedcheck",
            name="chunk",
            field=models.UUIDField(
                db_index=True,
                default="00000000-0000-0000-0000-000000000000",
                help_text="The task that will run the check.",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(chunk_is_batch, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="queuedcheck",
            name="batch",
            field=models.UUIDField(
                db_index=True, help_text="The run that queued it (one command, one click)."
            ),
        ),
        migrations.AddField(
            model_name="queuedcheck",
            name="worker",
            field=models.CharField(blank=True, help_text="Who holds the lease.", max_length=64),
        ),
        migrations.AddField(
            model_name="queuedcheck",
            name="lease_until",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
    ]
