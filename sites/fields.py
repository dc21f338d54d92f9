"""A model field that keeps its value encrypted at rest, and in every export."""

from django.db import models

from warehouse import encryption

# Marks a serialised value as a Fernet token (see ``EncryptedTextField.value_to_string``), so
# that loading a dump never mistakes ciphertext for a secret, or a secret for ciphertext.
SERIALISED_PREFIX = "fernet:"


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token under ``FIELD_ENCRYPTION_KEYS``.

    The empty string stays empty so that "no secret" can be queried. Each save
    produces a different token, so other lookups on the plaintext cannot match.

    Serialisers (``dumpdata``, fixtures) write ``fernet:<token>``, never the plaintext, and
    ``loaddata`` reads it back with the same keys (``sites/serializers``).
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

    def value_to_string(self, obj):
        """The value as exports carry it: a fresh token under the newest key."""
        value = self.value_from_object(obj)
        if value in (None, ""):
            return value
        return SERIALISED_PREFIX + encryption.encrypt(value)


def encrypted_fields(model) -> list[EncryptedTextField]:
    """The concrete encrypted fields of ``model``."""
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
