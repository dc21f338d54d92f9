"""The ``jsonl`` format with encrypted fields as ciphertext (see ``sites.serializers``)."""

from django.core.serializers import jsonl as builtin

from . import EncryptedFieldsAsCiphertext

Deserializer = builtin.Deserializer


class Serializer(EncryptedFieldsAsCiphertext, builtin.Serializer):
    pass
