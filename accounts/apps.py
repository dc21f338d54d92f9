from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default = True
    """Who may sign in, and how: the second factor, recovery codes, lockouts."""

    name = "accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from warehouse import production  # noqa: F401  (the proxy settings' deploy check)

        # System checks; lockouts logged; roles' groups give Staff status.
        from . import checks, lockout, receivers  # noqa: F401


class WarehouseAdminConfig(admin_apps.AdminConfig):
    default = False
    """The admin, with the Warehouse's site as ``admin.site``: its gate (active, staff, second
    factor) then guards every admin page and every view wrapped in ``admin.site.admin_view``."""

    default_site = "accounts.adminsite.WarehouseAdminSite"
