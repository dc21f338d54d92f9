from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    label = "outbox"
    verbose_name = "Outbox"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (system checks)
