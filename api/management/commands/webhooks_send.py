"""``manage.py webhooks_send``: queue every webhook delivery that is due and has no task
(its task was lost, e.g. the queue emptied). Safe to run from cron: a delivery is attempted
once however many tasks ask for it."""

from typing import Any

from api import webhooks
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = "Queue the webhook deliveries that are due (retries whose task was lost)."

    def handle(self, *args: Any, **options: Any) -> None:
        queued = webhooks.deliveries_queue_due()
        self.stdout.write(f"Queued {queued} webhook deliveries.")
