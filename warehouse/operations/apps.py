from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """What an operator's tools ask of a running Warehouse: liveness and readiness probes,
    Prometheus metrics, the task workers' heartbeats (docs/production.md)."""

    name = "warehouse.operations"
    label = "operations"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (counters of lockouts and second-factor failures)
