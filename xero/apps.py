from django.apps import AppConfig


class XeroConfig(AppConfig):
    name = "xero"
    label = "xero"
    verbose_name = "Xero"

    def ready(self):
        from . import audit, checks, receivers  # noqa: F401 - registers the checks and receivers

        audit.connect_receivers()
