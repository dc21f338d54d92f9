"""The ``yaml`` format with encrypted fields as ciphertext, when PyYAML is installed."""

from django.core.serializers import BadSerializer

from . import DecryptingDeserializer, EncryptedFieldsAsCiphertext

try:
    from django.core.serializers import pyyaml as builtin
except ImportError as error:  # PyYAML is not a dependency: say so when the format is asked for.
    Serializer = Deserializer = BadSerializer(error)
else:
    # (mypy: no-redef) these stand where BadSerializer stands when PyYAML is missing.
    class Serializer(EncryptedFieldsAsCiphertext, builtin.Serializer):  # type: ignore[no-redef]
        pass

    class Deserializer(DecryptingDeserializer, builtin.Deserializer):  # type: ignore[no-redef]
        pass
