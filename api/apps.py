from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    label = "api"
    verbose_name = "Interconnect API"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
