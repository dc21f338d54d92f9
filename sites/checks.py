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


# Tagged database as well: like Django's own database checks it asks the database, so it runs
# when a database is named (`check --deploy --database default`), never at every start-up.
@register(Tags.security, Tags.database, deploy=True)
def check_runtime_database_role(app_configs, databases=None, **kwargs):
    """On PostgreSQL, the Warehouse must not run as a role that can rewrite the audit trail."""
    from django.core.checks import Warning
    from django.db import connection

    from .database_roles import runtime_role_state

    if not databases:
        return []
    try:
        state = runtime_role_state(connection)
    except DatabaseError:
        return []
    if state is None:
        return []
    how = (
        "Run migrations as the owner and the Warehouse as a role with only INSERT and SELECT "
        "on the audit table: `manage.py database_grants --role ROLE` prints the GRANTs "
        "(docs/security-sessions-and-audit.md)."
    )
    found = []
    if state.superuser:
        found.append(
            Warning(
                f"The Warehouse connects to PostgreSQL as {state.name!r}, a superuser: it can "
                f"lift the audit trail's triggers and rewrite it. {how}",
                id="sites.W001",
            )
        )
    if state.owns_audit_table:
        found.append(
            Warning(
                f"The Warehouse connects to PostgreSQL as {state.name!r}, which owns the audit "
                f"table: it can drop its triggers or TRUNCATE it. {how}",
                id="sites.W002",
            )
        )
    return found
