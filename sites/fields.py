"""Model fields the apps share: text kept encrypted at rest and in every export, and the
user who did something."""

from typing import Any

from django.conf import settings
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


def done_by(**options: Any) -> "models.ForeignKey[Any, Any]":
    """The user who did something (invited, issued, ran a test…), kept as a plain reference.

    The row outlives the user (``SET NULL``: the history stays, saying no one) and the user
    needs no way back to every row that names them (``related_name="+"``). ``options`` are
    ForeignKey's, e.g. ``verbose_name``.
    """
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **options,
    )
