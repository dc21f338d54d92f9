from django.apps import AppConfig


class XeroConfig(AppConfig):
    name = "xero"
    label = "xero"
    verbose_name = "Xero"

    def ready(self):
        from . import audit, checks  # noqa: F401 - checks registers the checks

        audit.connect_receivers()
