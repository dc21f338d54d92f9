"""The ``json`` format with encrypted fields as ciphertext (see ``sites.serializers``)."""

from django.core.serializers import json as builtin

from . import EncryptedFieldsAsCiphertext

Deserializer = builtin.Deserializer


class Serializer(EncryptedFieldsAsCiphertext, builtin.Serializer):
    pass
