"""The ``jsonl`` format with encrypted fields as ciphertext (see ``sites.serializers``)."""

from django.core.serializers import jsonl as builtin

from . import DecryptingDeserializer, EncryptedFieldsAsCiphertext


class Serializer(EncryptedFieldsAsCiphertext, builtin.Serializer):
    pass


class Deserializer(DecryptingDeserializer, builtin.Deserializer):
    pass
