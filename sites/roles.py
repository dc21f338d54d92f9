"""The three roles, as groups created and granted by data migrations, and the customers' group."""

STAFF = "Staff"
ADMINS = "Admins"
SUPPORT = "Support"
ROLES = (STAFF, ADMINS, SUPPORT)
# Customers' group (customers/access.py): its members see their own Sites only.
CUSTOMERS = "Customers"
# Every page is behind the admin's gate, which wants *Staff status*: a member of any of these
# groups needs it (accounts/receivers.py sets it when they join).
GROUPS_NEEDING_STAFF_STATUS = (*ROLES, CUSTOMERS)


def grant_role_permissions(apps, role_permissions: dict[str, list[str]]) -> None:
    """Create the role groups if needed and grant them ``app_label.codename`` permissions.

    Called from data migrations with the historical ``apps``; permissions are normally
    made after the last migration, so they are made here first.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, permissions in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=role)
        for permission in permissions:
            app_label, codename = permission.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
