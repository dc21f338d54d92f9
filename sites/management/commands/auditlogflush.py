"""django-auditlog's ``auditlogflush``, replaced: the audit trail is append-only."""

from django.core.management.base import CommandError

from warehouse.commands import PlainErrorsCommand

APPEND_ONLY = (
    "The audit trail is append-only: its rows are never flushed. Rows older than "
    "AUDIT_RETENTION_DAYS are deleted by `manage.py prune_audit_trail` (docs/operating.md)."
)


class Command(PlainErrorsCommand):
    help = "Refused: the audit trail is append-only. See prune_audit_trail."

    def add_arguments(self, parser):
        # The library's options, accepted so that a script written for it gets this message.
        parser.add_argument("-y", "--yes", action="store_true")
        parser.add_argument("-b", "--before-date")

    def handle(self, *args, **options):
        raise CommandError(APPEND_ONLY)
