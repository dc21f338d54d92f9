"""django-auditlog's ``auditlogmigratejson``, replaced: it rewrites rows of the trail."""

from django.core.management.base import CommandError

from warehouse.commands import PlainErrorsCommand

NOT_NEEDED = (
    "The Warehouse's audit rows (sites.AuditEntry) keep their changes as JSON already, and "
    "the trail is append-only: nothing is migrated."
)


class Command(PlainErrorsCommand):
    help = "Refused: the Warehouse's audit rows need no migration to JSON."

    def add_arguments(self, parser):
        parser.add_argument("-d", "--database")
        parser.add_argument("-b", "--batch-size")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, **options):
        raise CommandError(NOT_NEEDED)
