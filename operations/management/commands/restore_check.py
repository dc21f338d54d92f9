"""``manage.py restore_check``: is this (restored) database usable with these settings?"""

from typing import Any

from django.core.management.base import CommandError

from operations import restore
from warehouse.commands import PlainErrorsCommand, one_line


class Command(PlainErrorsCommand):
    help = (
        "Check a restored database: migrations match the code, every encrypted field "
        "decrypts under FIELD_ENCRYPTION_KEYS, the audit trail's chain is intact (when "
        "this release has audit_verify). One line per problem; exit status 1 if any."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        found = 0
        for problem in restore.problems():
            found += 1
            self.stdout.write(one_line(problem))
        if found:
            raise CommandError(f"{found} problem(s) found: the restore is not usable as it is.")
        self.stdout.write(self.style.SUCCESS("Restore check passed: no problem found."))
