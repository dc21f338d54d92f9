from collections import defaultdict

from django.apps import apps
from django.core.management.base import CommandError
from django.db import transaction

from sites.audit import record_secrets_reencrypted
from sites.fields import encrypted_fields
from sites.models import Site
from warehouse.commands import PlainErrorsCommand
from warehouse.encryption import EncryptionKeyError

ROTATE_BATCH = 500


class Command(PlainErrorsCommand):
    help = (
        "Re-encrypt every stored secret under the newest key in FIELD_ENCRYPTION_KEYS. "
        "Put the new key first and keep the old ones after it until this has run."
    )

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                # Site id -> labels of its secrets re-encrypted, for the audit trail.
                self.rotated = defaultdict(set)
                counts = {
                    model._meta.label: self.rotate_model(model)
                    for model in apps.get_models()
                    if encrypted_fields(model)
                }
                record_secrets_reencrypted(site_ids_and_fields=self.rotated)
        except EncryptionKeyError as error:
            raise CommandError(error.message) from None
        for label, count in counts.items():
            self.stdout.write(f"{label}: re-encrypted {count} row(s).")
        self.stdout.write(
            self.style.SUCCESS("Done. Older keys can now leave FIELD_ENCRYPTION_KEYS.")
        )

    def rotate_model(self, model) -> int:
        names = [field.name for field in encrypted_fields(model)]
        labels = [field.verbose_name for field in encrypted_fields(model)]
        queryset = model._base_manager.all()
        site_of = self.site_of(model)
        count = 0
        # Reading decrypts under any key; writing encrypts under the newest. Rows are read
        # a batch at a time, each fetched whole before decrypting: a key that fails
        # half-way through a streamed read would leave its cursor to be finalised after
        # the database connection is gone, with a trace at exit. The base manager's update,
        # so that a Site's plain re-encryption is not recorded as a change: one
        # "re-encrypted" row per Site says it instead.
        pks = list(queryset.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), ROTATE_BATCH):
            batch = queryset.filter(pk__in=pks[start : start + ROTATE_BATCH])
            for pk, site_id, *values in batch.values_list("pk", site_of, *names):
                queryset.filter(pk=pk).update(**dict(zip(names, values, strict=True)))
                rotated = [
                    name if model is Site else f"{model._meta.verbose_name} {label}"
                    for name, label, value in zip(names, labels, values, strict=True)
                    if value
                ]
                if site_id is not None and rotated:
                    self.rotated[site_id].update(rotated)
                count += 1
        return count

    @staticmethod
    def site_of(model) -> str:
        """The column holding the Site a row belongs to ("pk" for a Site itself)."""
        if model is Site:
            return "pk"
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Site:
                return field.attname
        return "pk"
