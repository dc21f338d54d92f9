from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sites.encryption import EncryptionKeyError
from sites.fields import encrypted_fields


class Command(BaseCommand):
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
        # Reading decrypts under any key; writing encrypts under the newest.
        for pk, *values in queryset.values_list("pk", *names).iterator():
            queryset.filter(pk=pk).update(**dict(zip(names, values, strict=True)))
            count += 1
        return count
