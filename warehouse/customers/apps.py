from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "warehouse.customers"
    label = "customers"
    verbose_name = "Customers"
