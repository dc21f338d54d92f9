import functools

from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    label = "sites"
    verbose_name = "Sites"

    def ready(self):
        from . import audit, checks  # noqa: F401  (checks registers the system checks)
        from .admin import logentry_admin_unregister

        logentry_admin_unregister()

        audit.register_site()
        audit.register_users()
        audit.connect_receivers()
        _record_commands_as_their_origin()


def _record_commands_as_their_origin():
    """Every management command, run by ``manage.py`` or ``call_command``, is the origin
    of what it records ("manage.py rotate_encryption_keys").

    Django sends no signal when a command starts, and ``execute`` is the one method both
    paths go through, so it is wrapped here, once.
    """
    from django.core.management.base import BaseCommand

    from . import audit

    if getattr(BaseCommand.execute, "_audited", False):
        return
    original = BaseCommand.execute

    @functools.wraps(original)
    def execute(self, *args, **options):
        name = type(self).__module__.rsplit(".", 1)[-1]
        with audit.via(f"manage.py {name}"):
            return original(self, *args, **options)

    # Django has no hook around every command: the wrapper is put in its place, once
    # (mypy: attr-defined, method-assign).
    execute._audited = True  # type: ignore[attr-defined]
    BaseCommand.execute = execute  # type: ignore[method-assign]
