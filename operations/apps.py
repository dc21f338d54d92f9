from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """What an operator's tools ask of a running Warehouse: liveness and readiness probes,
    Prometheus metrics, the task workers' heartbeats (docs/production.md)."""

    name = "operations"
    label = "operations"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import atexit

        from django_tasks.signals import task_finished

        from . import counters, receivers  # noqa: F401  (lockouts, second-factor failures)

        # Counts added up in a process are written when a task ends and at exit (a
        # request's at its end: RequestIdMiddleware).
        task_finished.connect(receivers.flush_counters, dispatch_uid="operations-flush")
        atexit.register(counters.flush_at_exit)
