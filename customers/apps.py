from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    label = "customers"
    verbose_name = "Customers"
