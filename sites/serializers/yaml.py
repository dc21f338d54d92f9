"""The ``yaml`` format with encrypted fields as ciphertext, when PyYAML is installed."""

from django.core.serializers.base import SerializerDoesNotExist

from . import EncryptedFieldsAsCiphertext

try:
    from django.core.serializers import pyyaml as builtin
except ImportError:  # PyYAML is not a dependency: say so when the format is asked for.

    def _missing(*args, **kwargs):
        raise SerializerDoesNotExist("yaml (install PyYAML to use it)")

    Serializer = Deserializer = _missing
else:
    Deserializer = builtin.Deserializer

    class Serializer(EncryptedFieldsAsCiphertext, builtin.Serializer):
        pass
