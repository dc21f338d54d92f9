from django.apps import apps
from django.core.management.base import CommandError
from django.db import transaction

from sites.encryption import EncryptionKeyError
from sites.fields import encrypted_fields
from warehouse.commands import PlainErrorsCommand

ROTATE_BATCH = 500


class Command(PlainErrorsCommand):
    help = (
        "Re-encrypt every stored secret under the newest key in FIELD_ENCRYPTION_KEYS. "
        "Put the new key first and keep the old ones after it until this has run."
    )

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                counts = {
                    model._meta.label: self.rotate_model(model)
                    for model in apps.get_models()
                    if encrypted_fields(model)
                }
        except EncryptionKeyError as error:
            raise CommandError(error.message) from None
        for label, count in counts.items():
            self.stdout.write(f"{label}: re-encrypted {count} row(s).")
        self.stdout.write(
            self.style.SUCCESS("Done. Older keys can now leave FIELD_ENCRYPTION_KEYS.")
        )

    def rotate_model(self, model) -> int:
        names = [field.name for field in encrypted_fields(model)]
        queryset = model._default_manager.all()
        count = 0
        # Reading decrypts under any key; writing encrypts under the newest. Rows are read
        # a batch at a time, each fetched whole before decrypting: a key that fails
        # half-way through a streamed read would leave its cursor to be finalised after
        # the database connection is gone, with a trace at exit.
        pks = list(queryset.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), ROTATE_BATCH):
            batch = queryset.filter(pk__in=pks[start : start + ROTATE_BATCH])
            for pk, *values in batch.values_list("pk", *names):
                queryset.filter(pk=pk).update(**dict(zip(names, values, strict=True)))
                count += 1
        return count
