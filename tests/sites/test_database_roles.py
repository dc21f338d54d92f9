"""sites/database_roles.py, ``manage.py database_grants`` and the deploy check: on
PostgreSQL the runtime role holds only INSERT and SELECT on the audit table, and every way
round the triggers is refused to it."""

import io
import secrets

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from sites import audit, checks
from sites.database_roles import RoleNameInvalid, grants, role_state, runtime_role_state
from sites.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)

# What the runtime role tries on the audit table; each must be refused.
TRICKS = {
    "UPDATE": "UPDATE sites_auditentry SET summary = 'forged'",
    "DELETE": "DELETE FROM sites_auditentry",
    "TRUNCATE": "TRUNCATE sites_auditentry",
    "UPSERT": (
        "INSERT INTO sites_auditentry SELECT * FROM sites_auditentry "
        "ON CONFLICT (id) DO UPDATE SET summary = 'forged'"
    ),
    "session_replication_role": "SET session_replication_role = replica",
    "DISABLE TRIGGER": "ALTER TABLE sites_auditentry DISABLE TRIGGER ALL",
    "DROP TRIGGER": "DROP TRIGGER sites_auditentry_append_only ON sites_auditentry",
    "DROP TABLE": "DROP TABLE sites_auditentry",
}


def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's roles")


@pytest.fixture
def runtime_role():
    """A login role given exactly what ``database_grants`` prints; dropped afterwards."""
    _postgresql_only()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        if not cursor.fetchone()[0]:
            pytest.skip("the test database's role may not create roles (CREATEROLE)")
    name = f"{connection.settings_dict['NAME']}_runtime"[:63]
    password = secrets.token_urlsafe(16)
    quoted = connection.ops.quote_name(name)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {quoted}")
        cursor.execute(
            f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s",
            [password],
        )
        for statement in grants(role=name, connection=connection):
            cursor.execute(statement)
    yield name, password
    database = connection.ops.quote_name(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {quoted}")
        cursor.execute(f"REVOKE ALL ON SCHEMA public FROM {quoted}")
        cursor.execute(f"REVOKE ALL ON DATABASE {database} FROM {quoted}")
        cursor.execute(f"DROP ROLE {quoted}")


def _connect(name: str, password: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user=name,
        password=password,
        autocommit=True,
    )


@pytest.mark.parametrize("trick", list(TRICKS))
def test_the_runtime_role_cannot_rewrite_the_audit_trail(runtime_role, trick):
    entry = audit.record(kind=AuditEntry.Kind.LOGIN_FAILED, summary="kept as written")
    with _connect(*runtime_role) as runtime:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute(TRICKS[trick])
        # What it may do: read the trail, add to it (the chain's lock needs no privilege),
        # and change the Warehouse's other tables.
        assert runtime.execute("SELECT count(*) FROM sites_auditentry").fetchone()[0] == 1
        runtime.execute("SELECT pg_advisory_xact_lock(1)")
        runtime.execute(
            "INSERT INTO sites_auditentry (object_pk, object_repr, action, changes_text, "
            "timestamp, kind, site_code, site_name, actor_username, via, summary, chain_prev, "
            "chain_hash) SELECT '', '', 0, '', now(), 'login', '', '', '', 'web', 'added', "
            "'', ''"
        )
        runtime.execute("UPDATE sites_site SET name = name")
    assert AuditEntry.objects.get(pk=entry.pk).summary == "kept as written"


def test_the_deploy_check_passes_the_runtime_role_and_warns_of_the_owner(runtime_role):
    with _connect(*runtime_role) as runtime, runtime.cursor() as cursor:
        state = role_state(cursor)
    assert (state.superuser, state.owns_audit_table) == (False, False)

    owner = runtime_role_state(connection)
    found = {
        warning.id for warning in checks.check_runtime_database_role(None, databases=["default"])
    }
    assert owner.owns_audit_table and "sites.W002" in found
    assert ("sites.W001" in found) == owner.superuser


def test_the_grants_give_the_audit_table_only_select_and_insert(runtime_role):
    name, _password = runtime_role
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_name = 'sites_auditentry' ORDER BY 1",
            [name],
        )
        assert [row[0] for row in cursor.fetchall()] == ["INSERT", "SELECT"]


def test_database_grants_prints_the_statements():
    _postgresql_only()
    out = io.StringIO()

    call_command("database_grants", "--role", "warehouse_app", stdout=out)

    assert 'GRANT SELECT, INSERT ON "sites_auditentry" TO "warehouse_app";' in out.getvalue()
    assert "TRUNCATE" not in out.getvalue()


def test_database_grants_refuses_a_role_name_that_is_not_plain():
    _postgresql_only()
    with pytest.raises(RoleNameInvalid):
        grants(role='x"; DROP TABLE sites_site; --', connection=connection)


def test_database_grants_on_sqlite_says_what_to_do():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite answer")
    with pytest.raises(CommandError, match="not a PostgreSQL database"):
        call_command("database_grants", "--role", "warehouse_app")


def test_the_deploy_check_says_nothing_on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite answer")
    assert checks.check_runtime_database_role(None, databases=["default"]) == []
