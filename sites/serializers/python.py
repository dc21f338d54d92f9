"""The ``python`` format with encrypted fields as ciphertext (see ``sites.serializers``)."""

from django.core.serializers import python as builtin

from . import EncryptedFieldsAsCiphertext

Deserializer = builtin.Deserializer


class Serializer(EncryptedFieldsAsCiphertext, builtin.Serializer):
    pass
