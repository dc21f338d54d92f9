from django.core.management.base import CommandError
from django.db import connection

from sites.database_roles import RoleNameInvalid, grants
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = (
        "Print the PostgreSQL GRANTs for the Warehouse's runtime role: everything it needs "
        "on its tables, only SELECT and INSERT on the audit trail. Run them as the tables' "
        "owner (the role `migrate` runs as), again after each migration that adds a table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--role", required=True, help="The runtime role, e.g. warehouse_app.")

    def handle(self, *args, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "DATABASE_URL is not a PostgreSQL database: roles and GRANTs are PostgreSQL's. "
                "Run this with the production DATABASE_URL (as the owner)."
            )
        try:
            statements = grants(role=role, connection=connection)
        except RoleNameInvalid as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"-- Run as the owner of the Warehouse's tables, in {connection.settings_dict['NAME']}:"
        )
        for statement in statements:
            self.stdout.write(statement)
