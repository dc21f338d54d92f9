"""PostgreSQL roles: the Warehouse runs as a role that cannot rewrite its own audit trail.

Two roles (docs/security-sessions-and-audit.md):

- the **owner** owns the tables: ``migrate`` and ``prune_audit_trail`` run as it;
- the **runtime** role serves the pages and runs the workers. It holds SELECT, INSERT,
  UPDATE and DELETE on the Warehouse's tables but only SELECT and INSERT on the audit
  table, is no superuser and owns nothing. So it cannot UPDATE, DELETE or TRUNCATE audit
  rows, drop or disable the triggers (owner only), or set ``session_replication_role``
  (superuser only) to slip past them.

``grants`` writes the statements the owner runs; ``runtime_role_state`` is what the
deploy check (``sites/checks.py``) asks of the role the Warehouse connects as.
"""

import re
from dataclasses import dataclass

AUDIT_TABLE = "sites_auditentry"
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


class RoleNameInvalid(ValueError):
    code = "role_name_invalid"

    def __init__(self, role: str):
        self.message = (
            f"{role!r} is not a plain PostgreSQL role name: use letters, digits and "
            "underscores, starting with a letter (e.g. warehouse_app)."
        )
        super().__init__(self.message)


def grants(*, role: str, connection) -> list[str]:
    """The statements that give ``role`` what the Warehouse needs at run time, for the
    tables this database has now (run them again after a migration adds one)."""
    if not _ROLE_NAME.match(role):
        raise RoleNameInvalid(role)
    quote = connection.ops.quote_name
    who = quote(role)
    tables = sorted(connection.introspection.django_table_names(only_existing=True))
    others = [quote(table) for table in tables if table != AUDIT_TABLE]
    database = quote(connection.settings_dict["NAME"])
    statements = [
        f"GRANT CONNECT ON DATABASE {database} TO {who};",
        f"GRANT USAGE ON SCHEMA public TO {who};",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who};",
    ]
    if others:
        statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(others)} TO {who};")
    statements += [
        f"GRANT SELECT, INSERT ON {quote(AUDIT_TABLE)} TO {who};",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who};",
    ]
    return statements


@dataclass(frozen=True)
class RoleState:
    name: str
    superuser: bool
    owns_audit_table: bool


def runtime_role_state(connection) -> RoleState | None:
    """The role ``connection`` uses, as PostgreSQL sees it; None on another database.

    "Owns" includes being a member of the owning role, which gives the same powers.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        return role_state(cursor)


def role_state(cursor) -> RoleState:
    """``runtime_role_state`` through any DB-API cursor on PostgreSQL."""
    cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
    name, superuser = cursor.fetchone()
    cursor.execute(
        "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables "
        "WHERE tablename = %s AND schemaname = current_schema()",
        [AUDIT_TABLE],
    )
    row = cursor.fetchone()
    return RoleState(name=name, superuser=bool(superuser), owns_audit_table=bool(row and row[0]))
