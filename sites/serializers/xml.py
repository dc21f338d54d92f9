"""The ``xml`` format with encrypted fields as ciphertext (see ``sites.serializers``). Its
serialiser asks each field for ``value_to_string``, which ``EncryptedTextField`` answers with
ciphertext, so only the deserialiser needs the mixin."""

from django.core.serializers import xml_serializer as builtin

from . import DecryptingDeserializer

Serializer = builtin.Serializer


class Deserializer(DecryptingDeserializer, builtin.Deserializer):
    pass
