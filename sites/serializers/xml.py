"""The ``xml`` format. Its serialiser asks each field for ``value_to_string``, which
``EncryptedTextField`` answers with ciphertext, so the built-in classes serve as they are."""

from django.core.serializers.xml_serializer import Deserializer, Serializer

__all__ = ["Deserializer", "Serializer"]
