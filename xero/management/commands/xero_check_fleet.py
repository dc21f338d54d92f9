from warehouse.commands import PlainErrorsCommand
from xero.fleet import fleet_checks_enqueue


class Command(PlainErrorsCommand):
    help = (
        "Queue a background connection test of every Site (a worker runs them: "
        "`manage.py db_worker`). Sites already queued are not queued twice. Meant for cron."
    )

    def handle(self, *args, **options):
        queued = fleet_checks_enqueue()
        self.stdout.write(f"Queued {queued} Site check{'s' * (queued != 1)}.")
