from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    label = "sites"
    verbose_name = "Sites"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
