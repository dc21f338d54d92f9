"""Django's serialisation formats, with encrypted fields written as ciphertext.

``settings.SERIALIZATION_MODULES`` puts these in place of the built-in formats, so that
``dumpdata``, ``loaddata`` and ``django.core.serializers`` never hold a secret in plaintext.
Django's Python-based serialisers pass strings through as they are, without asking the field
(``value_to_string``); this mixin asks it for encrypted fields.
"""

from ..fields import EncryptedTextField


class EncryptedFieldsAsCiphertext:
    def _value_from_field(self, obj, field):
        if isinstance(field, EncryptedTextField):
            return field.value_to_string(obj)
        return super()._value_from_field(obj, field)
