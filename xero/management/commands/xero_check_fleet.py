from django.core.management.base import BaseCommand

from xero.fleet import fleet_checks_enqueue


class Command(BaseCommand):
    help = (
        "Queue a background connection test of every Site (a worker runs them: "
        "`manage.py db_worker`). Sites already queued are not queued twice. Meant for cron."
    )

    def handle(self, *args, **options):
        queued = fleet_checks_enqueue()
        self.stdout.write(f"Queued {queued} Site check{'s' * (queued != 1)}.")
