"""Django's serialisation formats, with encrypted fields written as ciphertext.

``settings.SERIALIZATION_MODULES`` puts these in place of the built-in formats, so that
``dumpdata``, ``loaddata`` and ``django.core.serializers`` never hold a secret in plaintext:
an encrypted field is written ``fernet:<token>`` (a fresh token under the newest key of
``FIELD_ENCRYPTION_KEYS``) and read back with those keys. Only the deserialisers read the
prefix: a secret typed into a form is never taken for ciphertext.
"""

from django.core.serializers.base import DeserializationError

from warehouse import encryption

from ..fields import SERIALISED_PREFIX, EncryptedTextField, encrypted_fields


class EncryptedFieldsAsCiphertext:
    """Serialiser mixin. Django's Python-based serialisers pass strings through as they are,
    without asking the field (``value_to_string``); this asks it for encrypted fields."""

    def _value_from_field(self, obj, field):
        if isinstance(field, EncryptedTextField):
            return field.value_to_string(obj)
        return super()._value_from_field(obj, field)


def decrypt_serialised_fields(instance) -> None:
    """Turn ``fernet:<token>`` values of ``instance``'s encrypted fields back into plaintext."""
    for field in encrypted_fields(type(instance)):
        value = getattr(instance, field.attname)
        if isinstance(value, str) and value.startswith(SERIALISED_PREFIX):
            try:
                plaintext = encryption.decrypt(value.removeprefix(SERIALISED_PREFIX))
            except encryption.EncryptionKeyError as error:
                raise DeserializationError(
                    f"{instance._meta.label}.{field.name} (pk {instance.pk}): {error.message}"
                ) from None
            setattr(instance, field.attname, plaintext)


class DecryptingDeserializer:
    """Deserialiser mixin: each object comes out with its secrets in plaintext, ready to be
    saved (and so encrypted again)."""

    def __iter__(self):
        for deserialized in super().__iter__():
            decrypt_serialised_fields(deserialized.object)
            yield deserialized

    def __next__(self):
        deserialized = super().__next__()
        decrypt_serialised_fields(deserialized.object)
        return deserialized
