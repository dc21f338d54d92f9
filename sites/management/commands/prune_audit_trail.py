from django.core.management.base import CommandError

from sites.audit import AuditRetentionTooShort, prune, retention_cutoff
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = (
        "Delete audit rows older than AUDIT_RETENTION_DAYS (default 7 years). The only way "
        "audit rows are ever deleted; the prune itself is recorded."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Say how many rows would go; delete none."
        )

    def handle(self, *args, dry_run, **options):
        try:
            cutoff = retention_cutoff()
            count = prune(dry_run=dry_run)
        except AuditRetentionTooShort as error:
            raise CommandError(error.message) from None
        if dry_run:
            self.stdout.write(f"{count} audit row(s) older than {cutoff:%Y-%m-%d} would go.")
        else:
            self.stdout.write(f"Deleted {count} audit row(s) older than {cutoff:%Y-%m-%d}.")
