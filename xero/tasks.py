"""Background tasks (Django's Tasks API): bulk connection tests never run in a request.

Run them with ``python manage.py db_worker`` (the default database backend); the work
itself is in ``xero/fleet.py``.
"""

from django_tasks import task

from . import fleet


@task()
def check_sites(*, batch: str) -> dict[str, int]:
    """Test the connection of the Sites queued in ``batch``; how many ended each way."""
    return fleet.fleet_checks_run(batch=batch)
