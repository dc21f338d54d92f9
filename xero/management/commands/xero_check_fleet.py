from django.core.management.base import CommandError

from warehouse.commands import PlainErrorsCommand
from xero.exceptions import FleetEnqueueFailed
from xero.tasks import fleet_checks_enqueue


class Command(PlainErrorsCommand):
    help = (
        "Queue a background connection test of every Site, in chunks that every worker "
        "shares (`manage.py db_worker`, or RQ workers). Sites already queued are not queued "
        "twice; checks of a worker that died are queued again. Meant for cron."
    )

    def handle(self, *args, **options):
        try:
            queued = fleet_checks_enqueue()
        except FleetEnqueueFailed as failure:
            # One line and a non-zero exit, so that cron's mail and monitoring see it.
            raise CommandError(failure.message) from None
        self.stdout.write(queued.summary())
        if queued.unconfirmed is not None:
            # Queued, yet in doubt: said, and a non-zero exit, so that cron's mail tells.
            raise CommandError(queued.unconfirmed.message)
