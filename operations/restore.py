"""Checks of a restored database (``manage.py restore_check``, docs/production.md).

Each check yields one line per problem; none yields nothing. More checks plug in by
appending a function to ``CHECKS`` (or, for the audit trail's hash chain, by shipping an
``audit_verify`` command, which is run when it exists).
"""

from collections.abc import Callable, Iterator
from io import StringIO

from django.apps import apps
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import connection

from sites.fields import encrypted_fields
from warehouse import encryption

from . import readiness

# At most this many lines about one field; then a count.
LINES_PER_FIELD = 20


def encrypted_fields_decrypt() -> Iterator[str]:
    """Every stored secret of every row decrypts under ``FIELD_ENCRYPTION_KEYS``."""
    quote = connection.ops.quote_name
    for model in apps.get_models():
        for field in encrypted_fields(model):
            table, pk = model._meta.db_table, str(model._meta.pk.column)
            bad = 0
            with connection.cursor() as cursor:
                # The raw column: the field itself would decrypt (and stop at the first).
                cursor.execute(
                    f"SELECT {quote(pk)}, {quote(str(field.column))} FROM {quote(table)} "  # noqa: S608
                    f"WHERE {quote(str(field.column))} <> '' ORDER BY {quote(pk)}"
                )
                while rows := cursor.fetchmany(500):
                    for row_pk, token in rows:
                        try:
                            encryption.decrypt(token)
                        except encryption.EncryptionKeyError:
                            bad += 1
                            if bad <= LINES_PER_FIELD:
                                yield (
                                    f"{model._meta.label} {row_pk}: {field.name} does not "
                                    "decrypt under FIELD_ENCRYPTION_KEYS"
                                )
            if bad > LINES_PER_FIELD:
                more = bad - LINES_PER_FIELD
                yield f"{model._meta.label}: {more} more rows whose {field.name} does not decrypt"


def migrations_match() -> Iterator[str]:
    """The database has applied exactly the code's migrations."""
    from django.db.migrations.recorder import MigrationRecorder

    for app, name in readiness.unapplied_migrations():
        yield f"migration {app}.{name} is not applied (run `manage.py migrate`)"
    on_disk = readiness._migrations_on_disk() | readiness.migrations_squashed_on_disk()
    installed = {config.label for config in apps.get_app_configs()}
    for app, name in sorted(set(MigrationRecorder(connection).applied_migrations()) - on_disk):
        if app in installed:
            yield (
                f"migration {app}.{name} is applied but not in this code: the backup is "
                "from a newer release"
            )


def audit_chain_intact() -> Iterator[str]:
    """The audit trail's hash chain holds, by ``manage.py audit_verify`` when this release
    has it."""
    if "audit_verify" not in get_commands():
        return
    output = StringIO()
    try:
        call_command("audit_verify", stdout=output, stderr=output)
    except CommandError as error:
        yield f"audit trail: {error}"
    except SystemExit as error:
        if error.code:
            yield f"audit trail: {' '.join(output.getvalue().split()) or 'audit_verify failed'}"


CHECKS: list[Callable[[], Iterator[str]]] = [
    migrations_match,
    encrypted_fields_decrypt,
    audit_chain_intact,
]


def problems() -> Iterator[str]:
    """Every problem of every check, one line each."""
    for check in CHECKS:
        yield from check()
