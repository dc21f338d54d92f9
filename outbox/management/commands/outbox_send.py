"""``manage.py outbox_send``: queue every outbox email that is due and has no task (a retry
the task queue could not defer, or a task that was lost). Safe to run from cron: an email
is tried once however many tasks ask for it."""

from typing import Any

from outbox import services
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = "Queue the outbox emails that are due (retries whose task was lost)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Also delete sent and failed emails older than OUTBOX_KEEP_SENT_DAYS.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        queued = services.messages_queue_due()
        self.stdout.write(f"Queued {queued} outbox emails.")
        if options["prune"]:
            pruned = services.messages_prune()
            self.stdout.write(f"Deleted {pruned} old outbox emails.")
