"""A model field that keeps its value encrypted at rest."""

from django.db import models

from . import encryption


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token under ``FIELD_ENCRYPTION_KEYS``.

    The empty string stays empty so that "no secret" can be queried. Each save
    produces a different token, so other lookups on the plaintext cannot match.
    """

    description = "Text encrypted at rest"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encryption.encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return encryption.decrypt(value)


def encrypted_fields(model) -> list[EncryptedTextField]:
    """The concrete encrypted fields of ``model``."""
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
