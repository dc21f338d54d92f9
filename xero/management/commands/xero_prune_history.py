from warehouse.commands import PlainErrorsCommand
from xero.retention import history_prune, retention_cutoff


class Command(PlainErrorsCommand):
    help = (
        "Delete connection tests and finished task rows older than "
        "XERO_HISTORY_RETENTION_DAYS, keeping each Site's newest test, verdict and pass."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Say how many rows would go; delete none."
        )

    def handle(self, *args, dry_run, **options):
        cutoff = retention_cutoff()
        pruned = history_prune(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {pruned.tests} connection test(s) and {pruned.tasks} finished task "
            f"row(s) older than {cutoff:%Y-%m-%d}."
        )
