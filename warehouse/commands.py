"""What every management command of the Warehouse shares: plain errors, never a traceback."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, OperationalError

from warehouse.encryption import EncryptionKeyError

DATABASE_BUSY = (
    "The Warehouse's database was busy (another process held a lock) or could not be "
    "reached; nothing was changed. Run the command again in a moment."
)
DATABASE_FAILED = (
    "The Warehouse's database refused the command ({error}); nothing was changed. "
    "Tell the Warehouse's developers."
)


def one_line(text: str) -> str:
    """``text`` on one line: a command's error is read in a terminal or a cron mail."""
    return " ".join(str(text).split())


class PlainErrorsCommand(BaseCommand):
    """A command whose known failures end in a ``CommandError`` with a one-line reason.

    Wrong or missing encryption keys and database errors are said plainly, the way the
    web pages say them; ``CommandError`` messages are put on one line.
    """

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except CommandError as error:
            raise CommandError(one_line(error), returncode=error.returncode) from None
        except EncryptionKeyError as error:
            raise CommandError(one_line(error.message)) from None
        except OperationalError:
            raise CommandError(DATABASE_BUSY) from None
        except DatabaseError as error:
            raise CommandError(DATABASE_FAILED.format(error=one_line(error)[:200])) from None
