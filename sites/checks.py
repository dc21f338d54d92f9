"""System checks: fail at start-up, naming the setting, instead of a 500 later."""

from django.apps import apps
from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from warehouse.encryption import EncryptionKeyError, get_multi_fernet

from .fields import encrypted_fields


@register(Tags.security)
def check_field_encryption_keys(app_configs, **kwargs):
    try:
        get_multi_fernet()
    except EncryptionKeyError as error:
        return [Error(error.message, id=f"sites.{error.code}")]
    return []


@register(Tags.database)
def check_stored_secrets_decrypt(app_configs, databases=None, **kwargs):
    """Try one stored value per encrypted field, so a wrong key shows at `migrate`."""
    if not databases:
        return []
    for model in apps.get_models():
        for field in encrypted_fields(model):
            try:
                model._default_manager.exclude(**{field.name: ""}).values_list(
                    field.name, flat=True
                ).first()
            except EncryptionKeyError as error:
                return [Error(error.message, obj=model, id=f"sites.{error.code}")]
            except DatabaseError:
                # Not migrated yet: nothing stored to check.
                return []
    return []


@register(Tags.security)
def check_audit_retention(app_configs, **kwargs):
    from .audit import AuditRetentionTooShort, retention_cutoff

    try:
        retention_cutoff()
    except AuditRetentionTooShort as error:
        return [Error(error.message, id=f"sites.{error.code}")]
    return []
